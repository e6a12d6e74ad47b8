/*
 * api_initpid: InitProducerId (see api_initpid.h).
 */
#include "config.h"

#include "api_initpid.h"
#include "conn.h"
#include "logging.h"
#include "pidblock.h"
#include "server.h"

void qr_api_initpid(qr_reqctx_t *ctx)
{
    const qr_init_pid_req_t *in = &ctx->req->u.init_pid;
    qr_resp_t resp = {0};
    qr_init_pid_resp_t *out = &resp.u.init_pid;

    out->producer_id = -1;
    out->producer_epoch = -1;
    if (in->transactional_id[0] != '\0') {
        qr_conn_log_peer(ctx->conn, "InitProducerId with transactional.id "
                                    "refused: transactions are not supported");
        out->error_code = QUIRE_ERR_INVALID_REQUEST;
    } else {
        out->error_code = qr_pidblock_next(qr_server_pidblock(ctx->server),
                                           &out->producer_id);
        if (out->error_code == QUIRE_ERR_NONE)
            out->producer_epoch = 0;
        else
            out->producer_id = -1;
    }
    resp.api = QR_API_INIT_PRODUCER_ID;
    resp.correlation_id = ctx->req->correlation_id;
    (void)qr_request_respond(ctx->reply, &resp);
    qr_reply_ready(ctx->reply);
}

/*
 * api_apiversions: answers with qr_wire_api_versions().
 */
#include "config.h"

#include "api_apiversions.h"
#include "conn.h"
#include "wire.h"

void qr_api_apiversions(qr_reqctx_t *ctx)
{
    qr_resp_t resp = {0};

    resp.api = QR_API_API_VERSIONS;
    resp.correlation_id = ctx->req->correlation_id;
    resp.error_code = QUIRE_ERR_NONE;
    resp.u.api_versions.error_code = QUIRE_ERR_NONE;
    resp.u.api_versions.apis =
        qr_wire_api_versions(&resp.u.api_versions.api_count);
    (void)qr_request_respond(ctx->reply, &resp);
    qr_reply_ready(ctx->reply);
}

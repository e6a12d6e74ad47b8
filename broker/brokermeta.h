/*
 * brokermeta: meta.properties, the file in every log dir that says which
 * broker the data belongs to (Kafka's BrokerMetadataCheckpoint, version 0):
 *
 *   version=0
 *   broker.id=1001
 *
 * A broker whose broker.id is -1 takes the id stored there, so a generated
 * id (coordinator/brokerseq.h) survives restarts; a broker whose configured
 * id disagrees with the stored one, or whose dirs disagree with each other,
 * must not start (Kafka's InconsistentBrokerIdException): its data would
 * be served as another broker's. Other keys (Kafka's cluster.id) are kept
 * out of the decision and ignored.
 */
#ifndef QR_BROKERMETA_H
#define QR_BROKERMETA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define QR_BROKERMETA_FILE "meta.properties"

/**
 * @brief Reads @p dir/meta.properties.
 * @param idp set to the stored broker.id on success.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND (no file); QUIRE_ERR_IO (it
 *          cannot be read); QUIRE_ERR_CONF_INVALID (malformed: no or a bad
 *          broker.id, a version other than 0). Detail in @p errstr.
 * @locality any  @locks none
 */
quire_err_t qr_brokermeta_read(const char *dir, int32_t *idp, char *errstr,
                               size_t errstr_size);

/**
 * @brief Writes @p dir/meta.properties durably (temporary file, fsync,
 * rename, fsync of the dir).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_IO with @p errstr.
 * @locality any  @locks none
 */
quire_err_t qr_brokermeta_write(const char *dir, int32_t id, char *errstr,
                                size_t errstr_size);

/**
 * @brief The broker id the dirs agree on, checked against the configured
 * one: reads meta.properties in each dir that exists (a missing dir or
 * file says nothing).
 * @param dirs, ndirs log.dirs (borrowed).
 * @param configured broker.id, -1 when it is to be found or generated.
 * @param idp set to the stored id, or -1 when no dir holds one.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_INVALID when two dirs disagree
 *          or the stored id is not @p configured (>= 0), or a file is
 *          malformed; QUIRE_ERR_IO. @p errstr names the files and ids.
 * @locality any  @locks none
 */
quire_err_t qr_brokermeta_resolve(const char *const *dirs, size_t ndirs,
                                  int32_t configured, int32_t *idp,
                                  char *errstr, size_t errstr_size);

#endif /* QR_BROKERMETA_H */

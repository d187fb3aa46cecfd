/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A component that forwards commands to telemetry, in C: every local message on `commands/<name>`
 * (PublishToTopic from another component) is published to AWS IoT Core on `telemetry/<name>` with QoS 1 and the
 * same payload. A forward that fails is counted and logged; the component keeps forwarding.
 * forwarder_test.c tests it with the in-process test nucleus (ggipc_test_nucleus_*).
 */
#ifndef FORWARDER_H
#define FORWARDER_H

#include <ggipc.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct {
    ggipc_client *client;
    ggipc_subscription *commands;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int forwarded;
    int errors;
    char last_error[256];
} forwarder;

static void forwarder_on_command(void *userdata, const ggipc_subscription_response_message *event) {
    forwarder *f = userdata;
    const ggipc_binary_message *m = ggipc_subscription_response_message_get_binary_message(event);
    if (m == NULL || ggipc_binary_message_get_context(m) == NULL) return;
    const char *topic = ggipc_message_context_get_topic(ggipc_binary_message_get_context(m));
    if (topic == NULL || strncmp(topic, "commands/", 9) != 0) return;
    char out[256];
    snprintf(out, sizeof out, "telemetry/%s", topic + 9);
    size_t len = 0;
    const uint8_t *payload = ggipc_binary_message_get_message(m, &len);
    ggipc_error *e = ggipc_client_publish_bytes(f->client, out, GGIPC_QOS_AT_LEAST_ONCE, payload, len);
    pthread_mutex_lock(&f->lock);
    if (e == NULL) {
        f->forwarded++;
    } else {
        fprintf(stderr, "forward of %s failed: %s\n", topic, ggipc_error_get_message(e));
        snprintf(f->last_error, sizeof f->last_error, "%s", ggipc_error_get_message(e));
        f->errors++;
        ggipc_error_free(e);
    }
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
}

/* Keep the stream on errors: a nucleus restart is reported as an interruption, then resumed. */
static bool forwarder_on_error(void *userdata, const ggipc_error *error) {
    (void)userdata;
    fprintf(stderr, "commands stream: %s\n", ggipc_error_get_message(error));
    return false;
}

static const ggipc_subscribe_to_topic_handler FORWARDER_HANDLER = {
    .on_event = forwarder_on_command,
    .on_stream_error = forwarder_on_error,
};

/* Connects from the component's environment (reconnecting) and subscribes to commands. */
static ggipc_error *forwarder_start(forwarder *f) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->changed, NULL);
    ggipc_client_options *o = ggipc_client_options_new();
    ggipc_error *e = ggipc_client_options_set_reconnect(o, true);
    if (e == NULL) e = ggipc_client_connect(o, &f->client);
    ggipc_client_options_free(o);
    if (e != NULL) return e;
    ggipc_subscribe_to_topic_request *r = ggipc_subscribe_to_topic_request_new();
    e = ggipc_subscribe_to_topic_request_set_topic(r, "commands/#");
    if (e == NULL) e = ggipc_client_subscribe_to_topic(f->client, r, &FORWARDER_HANDLER, f, NULL, &f->commands);
    ggipc_subscribe_to_topic_request_free(r);
    return e;
}

/* Waits up to `ms` until `count` commands were handled (forwarded or failed). */
static bool forwarder_wait_handled(forwarder *f, int count, long ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->lock);
    int rc = 0;
    while (f->forwarded + f->errors < count && rc == 0) rc = pthread_cond_timedwait(&f->changed, &f->lock, &deadline);
    bool ok = f->forwarded + f->errors >= count;
    pthread_mutex_unlock(&f->lock);
    return ok;
}

static void forwarder_stop(forwarder *f) {
    ggipc_subscription_free(f->commands);
    ggipc_client_free(f->client);
    pthread_cond_destroy(&f->changed);
    pthread_mutex_destroy(&f->lock);
}

#endif /* FORWARDER_H */

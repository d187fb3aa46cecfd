/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ggipc C example: subscribe to a topic, publish a few messages to it, print what
 * arrives, then close everything. Run it as a Greengrass component (or under
 * `ggipc run`): the socket path and token come from
 * AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT and SVCUID.
 *
 * Usage: publish_subscribe [TOPIC] [COUNT]   (defaults: test/c/example, 3)
 */
#define _POSIX_C_SOURCE 200809L

#include <ggipc.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int received;
    int closed;
} state;

static void on_message(void *userdata, const ggipc_message *message) {
    state *s = userdata;
    size_t len = 0;
    const uint8_t *payload = ggipc_message_get_payload(message, &len);
    const char *topic = ggipc_message_get_topic(message);
    printf("received on %s: %.*s\n", topic ? topic : "?", (int)len, payload ? (const char *)payload : "");
    pthread_mutex_lock(&s->mu);
    s->received++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_closed(void *userdata, const ggipc_error *reason) {
    state *s = userdata;
    printf("subscription closed%s%s\n", reason ? ": " : "", reason ? ggipc_error_get_message(reason) : "");
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits until *value >= target, at most 30 s; returns 0 on success. */
static int wait_until(state *s, const int *value, int target) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    while (*value < target && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &deadline);
    }
    const int ok = *value >= target;
    pthread_mutex_unlock(&s->mu);
    return ok ? 0 : -1;
}

static int fail(const char *what, ggipc_error *e) {
    fprintf(stderr, "%s failed: %s: %s\n", what, ggipc_error_kind_name(ggipc_error_get_kind(e)),
            ggipc_error_get_message(e));
    ggipc_error_free(e);
    return 1;
}

int main(int argc, char **argv) {
    const char *topic = argc > 1 ? argv[1] : "test/c/example";
    const int count = argc > 2 ? atoi(argv[2]) : 3;
    state s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

    ggipc_client *client = NULL;
    ggipc_error *err = ggipc_client_connect(NULL, &client);
    if (err != NULL) {
        return fail("connect", err);
    }

    const ggipc_subscription_handler handler = {
        .on_message = on_message,
        .on_closed = on_closed,
    };
    ggipc_subscription *sub = NULL;
    err = ggipc_client_subscribe(client, topic, GGIPC_QOS_AT_LEAST_ONCE, &handler, &s, NULL, &sub);
    if (err != NULL) {
        ggipc_client_free(client);
        return fail("subscribe", err);
    }

    for (int i = 0; i < count; i++) {
        char text[64];
        int n = snprintf(text, sizeof text, "hello %d from C", i);
        err = ggipc_client_publish_bytes(client, topic, GGIPC_QOS_AT_LEAST_ONCE, (const uint8_t *)text, (size_t)n);
        if (err != NULL) {
            ggipc_subscription_free(sub);
            ggipc_client_free(client);
            return fail("publish", err);
        }
        printf("published to %s: %s\n", topic, text);
    }

    /* Wait for our own messages to come back, then close the subscription. */
    int status = 0;
    if (wait_until(&s, &s.received, count) != 0) {
        fprintf(stderr, "only %d of %d messages arrived within 30 s\n", s.received, count);
        status = 1;
    }
    ggipc_subscription_close(sub);
    if (wait_until(&s, &s.closed, 1) != 0) {
        fprintf(stderr, "the subscription did not report its close within 30 s\n");
        status = 1;
    }
    ggipc_subscription_free(sub);
    ggipc_client_free(client);
    if (status == 0) {
        printf("done: %d messages round-tripped\n", count);
    }
    return status;
}

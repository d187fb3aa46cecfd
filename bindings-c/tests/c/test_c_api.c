/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the C API against a running test server (ggipc-test-server).
 * Environment: GGIPC_TEST_SOCKET = the server's socket path.
 * Prints one line per test and a final "N passed, M failed" line; exit status 0
 * only if every test passed. Waits are condition variables with a deadline, never sleeps.
 */
#define _POSIX_C_SOURCE 200809L

#include <ggipc.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_TEST "GGIPCTESTTOKEN01"
#define WAIT_MS 10000

static const char *g_socket;
static int g_failed_checks;
static int g_passed;
static int g_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
            g_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* Checks that `err` is non-NULL with `kind`, prints it, frees it. */
#define CHECK_ERR(err, kind)                                                                       \
    do {                                                                                           \
        ggipc_error *e_ = (err);                                                                   \
        CHECK(e_ != NULL);                                                                         \
        if (e_ != NULL) {                                                                          \
            if (ggipc_error_get_kind(e_) != (kind)) {                                              \
                fprintf(stderr, "  got kind %s (%s), want %s\n",                                  \
                        ggipc_error_kind_name(ggipc_error_get_kind(e_)), ggipc_error_get_message(e_), \
                        ggipc_error_kind_name(kind));                                              \
                g_failed_checks++;                                                                 \
            }                                                                                      \
            ggipc_error_free(e_);                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_OK(err)                                                                              \
    do {                                                                                           \
        ggipc_error *e_ = (err);                                                                   \
        if (e_ != NULL) {                                                                          \
            fprintf(stderr, "  unexpected error at %s:%d: %s: %s\n", __FILE__, __LINE__,           \
                    ggipc_error_kind_name(ggipc_error_get_kind(e_)), ggipc_error_get_message(e_)); \
            ggipc_error_free(e_);                                                                  \
            g_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* ---- a counter with a condition variable ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
} counter;

static void counter_init(counter *c) {
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->count = 0;
}

static void counter_destroy(counter *c) {
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static void counter_add_n(counter *c, int n) {
    pthread_mutex_lock(&c->mu);
    c->count += n;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void counter_add(counter *c) { counter_add_n(c, 1); }

static int counter_get(counter *c) {
    pthread_mutex_lock(&c->mu);
    int n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Waits until count >= target or WAIT_MS passes; returns the count seen. */
static int counter_wait(counter *c, int target) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&c->mu);
    while (c->count < target) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    int n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* ---- helpers ---- */

static ggipc_client *connect_with(const char *token) {
    ggipc_client_options *o = ggipc_client_options_new();
    CHECK_OK(ggipc_client_options_set_socket_path(o, g_socket));
    CHECK_OK(ggipc_client_options_set_auth_token(o, token));
    ggipc_client *c = NULL;
    CHECK_OK(ggipc_client_connect(o, &c));
    ggipc_client_options_free(o);
    return c;
}

static ggipc_error *publish_text(const ggipc_client *c, const char *topic, const char *text) {
    return ggipc_client_publish_bytes(c, topic, GGIPC_QOS_AT_LEAST_ONCE, (const uint8_t *)text, strlen(text));
}

/* Subscription state shared with callbacks. */
typedef struct {
    counter messages;
    counter closed;
    counter freed;
    counter errors;
    pthread_mutex_t mu;
    char last_topic[256];
    char last_payload[256];
    int closed_kind; /* 0 = closed normally */
    /* behaviour switches */
    const ggipc_client *client;
    ggipc_subscription **self;
    int close_on_message;
    int free_on_message;
    const char *republish_topic;
    int republish_failed;
} sub_state;

static void sub_state_init(sub_state *s) {
    memset(s, 0, sizeof *s);
    counter_init(&s->messages);
    counter_init(&s->closed);
    counter_init(&s->freed);
    counter_init(&s->errors);
    pthread_mutex_init(&s->mu, NULL);
    s->closed_kind = -1;
}

static void sub_state_destroy(sub_state *s) {
    counter_destroy(&s->messages);
    counter_destroy(&s->closed);
    counter_destroy(&s->freed);
    counter_destroy(&s->errors);
    pthread_mutex_destroy(&s->mu);
}

static void on_message(void *ud, const ggipc_message *m) {
    sub_state *s = ud;
    size_t len = 0;
    const uint8_t *p = ggipc_message_get_payload(m, &len);
    const char *t = ggipc_message_get_topic(m);
    pthread_mutex_lock(&s->mu);
    snprintf(s->last_topic, sizeof s->last_topic, "%s", t ? t : "");
    if (len >= sizeof s->last_payload) {
        len = sizeof s->last_payload - 1;
    }
    if (p != NULL) {
        memcpy(s->last_payload, p, len);
    }
    s->last_payload[len] = '\0';
    pthread_mutex_unlock(&s->mu);
    if (s->republish_topic != NULL) {
        /* Re-entering the library (a blocking call) from the callback thread. */
        ggipc_error *e = publish_text(s->client, s->republish_topic, "from callback");
        if (e != NULL) {
            s->republish_failed = 1;
            ggipc_error_free(e);
        }
    }
    if (s->close_on_message) {
        ggipc_subscription_close(*s->self);
    }
    if (s->free_on_message) {
        ggipc_subscription_free(*s->self);
        *s->self = NULL;
    }
    counter_add(&s->messages);
}

static bool on_stream_error(void *ud, const ggipc_error *e) {
    (void)e;
    counter_add(&((sub_state *)ud)->errors);
    return true;
}

static void on_closed(void *ud, const ggipc_error *reason) {
    sub_state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->closed_kind = reason == NULL ? 0 : (int)ggipc_error_get_kind(reason);
    pthread_mutex_unlock(&s->mu);
    counter_add(&s->closed);
}

static void free_state(void *ud) { counter_add(&((sub_state *)ud)->freed); }

static const ggipc_subscription_handler HANDLER = {
    .on_message = on_message, .on_stream_error = on_stream_error, .on_closed = on_closed};

/* ---- tests ---- */

static void test_version(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", GGIPC_VERSION_MAJOR, GGIPC_VERSION_MINOR, GGIPC_VERSION_PATCH);
    CHECK(strcmp(expected, GGIPC_VERSION) == 0);
    CHECK(strcmp(ggipc_version(), GGIPC_VERSION) == 0);
}

static void test_null_and_invalid_arguments(void) {
    ggipc_client *c = NULL;
    CHECK_ERR(ggipc_client_connect(NULL, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_client_publish(NULL, NULL, 0), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_client_publish_bytes(NULL, "t", 0, NULL, 0), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_client_subscribe(NULL, "t", 0, &HANDLER, NULL, NULL, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_client_options_set_socket_path(NULL, "x"), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    ggipc_publish_request *r = NULL;
    /* An unknown QoS number gets the nucleus' own error (see same_error_for_same_bad_input). */
    CHECK_ERR(ggipc_publish_request_new("t", 7, NULL, 0, &r), GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR);
    CHECK(r == NULL);
    const char bad_utf8[] = {'a', (char)0xff, 0};
    CHECK_ERR(ggipc_publish_request_new(bad_utf8, GGIPC_QOS_AT_MOST_ONCE, NULL, 0, &r), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_publish_request_new("t", GGIPC_QOS_AT_MOST_ONCE, NULL, 5, &r), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_publish_request_set_payload_format(NULL, 0), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(ggipc_error_get_kind(NULL) == GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(ggipc_error_get_message(NULL) != NULL);
    CHECK(ggipc_error_get_service_model_type(NULL) == NULL);
    CHECK(strcmp(ggipc_error_kind_name(GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR), "UNAUTHORIZED_ERROR") == 0);
    CHECK(strcmp(ggipc_error_kind_name(99999), "UNKNOWN") == 0);
    CHECK(ggipc_message_get_topic(NULL) == NULL);
    CHECK(ggipc_message_get_user_property_count(NULL) == 0);
    CHECK(!ggipc_publish_operation_wait(NULL, 0));
    CHECK(!ggipc_subscription_wait(NULL, 0));
    ggipc_error_free(NULL);
    ggipc_client_free(NULL);
    ggipc_client_close(NULL);
    ggipc_subscription_free(NULL);
    ggipc_subscription_close(NULL);
    ggipc_publish_request_free(NULL);
    ggipc_publish_operation_free(NULL);
    ggipc_client_options_free(NULL);
    ggipc_message_free(NULL);
    (void)c;
}

static void test_connect_errors(void) {
    ggipc_client_options *o = ggipc_client_options_new();
    CHECK_OK(ggipc_client_options_set_socket_path(o, g_socket));
    CHECK_OK(ggipc_client_options_set_auth_token(o, "NOT-A-TOKEN"));
    ggipc_client *c = NULL;
    CHECK_ERR(ggipc_client_connect(o, &c), GGIPC_ERROR_KIND_ACCESS_DENIED);
    CHECK(c == NULL);
    CHECK_OK(ggipc_client_options_set_socket_path(o, "/nonexistent/ggipc.socket"));
    CHECK_ERR(ggipc_client_connect(o, &c), GGIPC_ERROR_KIND_CONNECT_FAILED);
    CHECK(c == NULL);
    ggipc_client_options_free(o);
}

static void test_publish_and_errors(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    CHECK_OK(publish_text(c, "test/c/publish", "hello"));

    ggipc_error *e = publish_text(c, "denied/topic", "hello");
    CHECK(e != NULL && ggipc_error_get_kind(e) == GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR);
    if (e != NULL) {
        CHECK(strcmp(ggipc_error_get_message(e), "Not Authorized") == 0);
        CHECK(ggipc_error_get_service_model_type(e) != NULL &&
              strcmp(ggipc_error_get_service_model_type(e), "aws.greengrass#UnauthorizedError") == 0);
        ggipc_error *copy = ggipc_error_clone(e);
        CHECK(copy != NULL && ggipc_error_get_kind(copy) == GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR);
        ggipc_error_free(copy);
        ggipc_error_free(e);
    }

    ggipc_publish_request *r = NULL;
    CHECK_OK(ggipc_publish_request_new("test/c/publish", GGIPC_QOS_AT_MOST_ONCE, NULL, 0, &r));
    e = ggipc_client_publish(c, r, 0);
    CHECK(e != NULL && ggipc_error_get_kind(e) == GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR);
    if (e != NULL) {
        CHECK(strcmp(ggipc_error_get_message(e), "Payload is required") == 0);
        ggipc_error_free(e);
    }
    CHECK_OK(ggipc_publish_request_set_payload(r, (const uint8_t *)"x", 1));
    CHECK_OK(ggipc_publish_request_set_qos(r, GGIPC_QOS_UNSET));
    CHECK_ERR(ggipc_client_publish(c, r, 0), GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR);
    ggipc_publish_request_free(r);
    ggipc_client_free(c);
}

static void test_subscribe_receive_mqtt5(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    sub_state s;
    sub_state_init(&s);
    ggipc_subscription *sub = NULL;
    CHECK_OK(ggipc_client_subscribe(c, "test/c/sub/+", GGIPC_QOS_AT_LEAST_ONCE, &HANDLER, &s, free_state, &sub));
    CHECK(sub != NULL);
    CHECK(ggipc_subscription_wait(sub, 0));
    CHECK_OK(ggipc_subscription_get_result(sub));

    ggipc_publish_request *r = NULL;
    CHECK_OK(ggipc_publish_request_new("test/c/sub/a", GGIPC_QOS_AT_LEAST_ONCE, (const uint8_t *)"payload-1", 9, &r));
    CHECK_OK(ggipc_publish_request_add_user_property(r, "k1", "v1"));
    CHECK_OK(ggipc_publish_request_add_user_property(r, "k2", "v2"));
    CHECK_OK(ggipc_publish_request_set_correlation_data(r, (const uint8_t *)"\x00\x01\x02", 3));
    CHECK_OK(ggipc_publish_request_set_response_topic(r, "test/c/reply"));
    CHECK_OK(ggipc_publish_request_set_payload_format(r, GGIPC_PAYLOAD_FORMAT_UTF8));
    CHECK_OK(ggipc_publish_request_set_message_expiry_interval_seconds(r, 60));
    CHECK_OK(ggipc_client_publish(c, r, 5000));
    ggipc_publish_request_free(r);

    CHECK(counter_wait(&s.messages, 1) == 1);
    pthread_mutex_lock(&s.mu);
    CHECK(strcmp(s.last_topic, "test/c/sub/a") == 0);
    CHECK(strcmp(s.last_payload, "payload-1") == 0);
    pthread_mutex_unlock(&s.mu);

    ggipc_subscription_close(sub);
    CHECK(counter_wait(&s.closed, 1) == 1);
    CHECK(s.closed_kind == 0);
    ggipc_subscription_close(sub); /* idempotent */
    ggipc_subscription_free(sub);
    CHECK(counter_wait(&s.freed, 1) == 1);
    ggipc_client_free(c);
    sub_state_destroy(&s);
}

/* Captures every field of one message for the MQTT 5 test. */
typedef struct {
    counter got;
    ggipc_message *copy;
} capture;

static void capture_message(void *ud, const ggipc_message *m) {
    capture *cap = ud;
    if (counter_get(&cap->got) == 0) {
        cap->copy = ggipc_message_clone(m);
    }
    counter_add(&cap->got);
}

/* Subscribes to `topic`, keeping a copy of the first message in `cap`. */
static ggipc_subscription *capture_on(ggipc_client *c, const char *topic, capture *cap) {
    static const ggipc_subscription_handler h = {.on_message = capture_message};
    memset(cap, 0, sizeof *cap);
    counter_init(&cap->got);
    ggipc_subscription *sub = NULL;
    CHECK_OK(ggipc_client_subscribe(c, topic, GGIPC_QOS_AT_MOST_ONCE, &h, cap, NULL, &sub));
    return sub;
}

static void capture_end(capture *cap, ggipc_subscription *sub) {
    ggipc_subscription_free(sub);
    ggipc_message_free(cap->copy);
    counter_destroy(&cap->got);
}

static void test_message_fields(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    capture cap;
    ggipc_subscription *sub = capture_on(c, "test/c/fields", &cap);
    ggipc_publish_request *r = NULL;
    CHECK_OK(ggipc_publish_request_new("test/c/fields", GGIPC_QOS_AT_MOST_ONCE, (const uint8_t *)"", 0, &r));
    CHECK_OK(ggipc_publish_request_add_user_property(r, "key", "value"));
    CHECK_OK(ggipc_publish_request_set_correlation_data(r, (const uint8_t *)"\x00\x01\x02", 3));
    CHECK_OK(ggipc_publish_request_set_response_topic(r, "test/c/reply"));
    CHECK_OK(ggipc_publish_request_set_payload_format(r, GGIPC_PAYLOAD_FORMAT_UTF8));
    CHECK_OK(ggipc_publish_request_set_message_expiry_interval_seconds(r, 60));
    CHECK_OK(ggipc_publish_request_set_content_type(r, "text/plain"));
    CHECK_OK(ggipc_client_publish(c, r, 0));
    ggipc_publish_request_free(r);
    CHECK(counter_wait(&cap.got, 1) >= 1);
    const ggipc_message *m = cap.copy;
    CHECK(m != NULL);
    if (m != NULL) {
        size_t len = 99;
        CHECK(ggipc_message_get_payload(m, &len) != NULL && len == 0);
        CHECK(ggipc_message_get_user_property_count(m) == 1);
        const char *k = NULL, *v = NULL;
        CHECK(ggipc_message_get_user_property(m, 0, &k, &v) && strcmp(k, "key") == 0 && strcmp(v, "value") == 0);
        CHECK(!ggipc_message_get_user_property(m, 1, &k, &v));
        const uint8_t *cd = ggipc_message_get_correlation_data(m, &len);
        CHECK(cd != NULL && len == 3 && cd[2] == 2);
        CHECK(ggipc_message_get_response_topic(m) != NULL && strcmp(ggipc_message_get_response_topic(m), "test/c/reply") == 0);
        ggipc_payload_format pf = 99;
        CHECK(ggipc_message_get_payload_format(m, &pf) && pf == GGIPC_PAYLOAD_FORMAT_UTF8);
        int64_t expiry = 0;
        CHECK(ggipc_message_get_message_expiry_interval_seconds(m, &expiry) && expiry == 60);
        bool retain = true;
        CHECK(!ggipc_message_get_retain(m, &retain) || !retain);
    }
    capture_end(&cap, sub);
    ggipc_client_free(c);
}

/* Every member of a publish given as a view arrives as given (the handle path is test_message_fields). */
static void test_message_fields_from_a_view(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    capture cap;
    ggipc_subscription *sub = capture_on(c, "test/c/view", &cap);
    const ggipc_user_property_view props[2] = {{.key = "k1", .value = "v1"}, {.key = "k2", .value = "v2"}};
    ggipc_publish_to_iot_core_request_view v = {0};
    v.topic_name = "test/c/view";
    v.has_qos = true;
    v.qos = GGIPC_QOS_AT_MOST_ONCE;
    v.has_payload = true;
    v.payload = (const uint8_t *)"from a view";
    v.payload_len = 11;
    v.has_user_properties = true;
    v.user_properties = props;
    v.user_properties_count = 2;
    v.has_correlation_data = true;
    v.correlation_data = (const uint8_t *)"\x00\x01\x02";
    v.correlation_data_len = 3;
    v.response_topic = "test/c/reply";
    v.has_payload_format = true;
    v.payload_format = GGIPC_PAYLOAD_FORMAT_UTF8;
    v.has_message_expiry_interval_seconds = true;
    v.message_expiry_interval_seconds = 60;
    v.content_type = "text/plain";
    ggipc_publish_to_iot_core_response *resp = NULL;
    CHECK_OK(ggipc_client_publish_to_iot_core_view(c, &v, 0, &resp));
    CHECK(resp != NULL);
    ggipc_publish_to_iot_core_response_free(resp);
    CHECK(counter_wait(&cap.got, 1) >= 1);
    const ggipc_message *m = cap.copy;
    CHECK(m != NULL);
    if (m != NULL) {
        size_t len = 0;
        const uint8_t *p = ggipc_message_get_payload(m, &len);
        CHECK(p != NULL && len == 11 && memcmp(p, "from a view", 11) == 0);
        CHECK(ggipc_message_get_user_property_count(m) == 2);
        const char *k = NULL, *val = NULL;
        CHECK(ggipc_message_get_user_property(m, 1, &k, &val) && strcmp(k, "k2") == 0 && strcmp(val, "v2") == 0);
        const uint8_t *cd = ggipc_message_get_correlation_data(m, &len);
        CHECK(cd != NULL && len == 3 && cd[0] == 0 && cd[2] == 2);
        CHECK(ggipc_message_get_response_topic(m) != NULL && strcmp(ggipc_message_get_response_topic(m), "test/c/reply") == 0);
        ggipc_payload_format pf = 99;
        CHECK(ggipc_message_get_payload_format(m, &pf) && pf == GGIPC_PAYLOAD_FORMAT_UTF8);
        int64_t expiry = 0;
        CHECK(ggipc_message_get_message_expiry_interval_seconds(m, &expiry) && expiry == 60);
    }
    capture_end(&cap, sub);
    ggipc_client_free(c);
}

static void test_subscribe_unauthorized(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    sub_state s;
    sub_state_init(&s);
    ggipc_subscription *sub = NULL;
    ggipc_error *e = ggipc_client_subscribe(c, "denied/#", GGIPC_QOS_AT_MOST_ONCE, &HANDLER, &s, free_state, &sub);
    CHECK(e != NULL && ggipc_error_get_kind(e) == GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR);
    if (e != NULL) {
        CHECK(strcmp(ggipc_error_get_message(e), "Not Authorized") == 0);
        ggipc_error_free(e);
    }
    CHECK(sub == NULL);
    /* On failure the caller keeps userdata: free_userdata must not have run. */
    CHECK(counter_get(&s.freed) == 0);
    CHECK(counter_get(&s.closed) == 0);

    /* The begin/wait/get_result form reports the same. */
    CHECK_OK(ggipc_client_subscribe_begin(c, "denied/x", GGIPC_QOS_AT_MOST_ONCE, &HANDLER, &s, free_state, &sub));
    CHECK(ggipc_subscription_wait(sub, UINT64_MAX));
    CHECK_ERR(ggipc_subscription_get_result(sub), GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR);
    ggipc_subscription_free(sub);
    CHECK(counter_wait(&s.freed, 1) == 1);
    ggipc_client_free(c);
    sub_state_destroy(&s);
}

static void test_callback_reenters_library(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    sub_state first, second;
    sub_state_init(&first);
    sub_state_init(&second);
    first.client = c;
    first.republish_topic = "test/c/second";
    ggipc_subscription *s1 = NULL, *s2 = NULL;
    CHECK_OK(ggipc_client_subscribe(c, "test/c/second", GGIPC_QOS_AT_MOST_ONCE, &HANDLER, &second, NULL, &s2));
    CHECK_OK(ggipc_client_subscribe(c, "test/c/first", GGIPC_QOS_AT_MOST_ONCE, &HANDLER, &first, NULL, &s1));
    CHECK_OK(publish_text(c, "test/c/first", "go"));
    CHECK(counter_wait(&first.messages, 1) == 1);
    CHECK(counter_wait(&second.messages, 1) == 1);
    CHECK(!first.republish_failed);
    pthread_mutex_lock(&second.mu);
    CHECK(strcmp(second.last_payload, "from callback") == 0);
    pthread_mutex_unlock(&second.mu);
    ggipc_subscription_free(s1);
    ggipc_subscription_free(s2);
    ggipc_client_free(c);
    sub_state_destroy(&first);
    sub_state_destroy(&second);
}

static void test_close_inside_callback(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    sub_state s;
    sub_state_init(&s);
    ggipc_subscription *sub = NULL;
    s.self = &sub;
    s.close_on_message = 1;
    CHECK_OK(ggipc_client_subscribe(c, "test/c/close", GGIPC_QOS_AT_MOST_ONCE, &HANDLER, &s, free_state, &sub));
    CHECK_OK(publish_text(c, "test/c/close", "one"));
    CHECK(counter_wait(&s.closed, 1) == 1);
    CHECK(s.closed_kind == 0);
    CHECK(counter_get(&s.messages) == 1);
    /* After the close, publishing more reaches nobody. */
    CHECK_OK(publish_text(c, "test/c/close", "two"));
    ggipc_subscription_free(sub);
    CHECK(counter_wait(&s.freed, 1) == 1);
    CHECK(counter_get(&s.messages) == 1);
    ggipc_client_free(c);
    sub_state_destroy(&s);
}

static void test_free_inside_callback(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    sub_state s;
    sub_state_init(&s);
    ggipc_subscription *sub = NULL;
    s.self = &sub;
    s.free_on_message = 1;
    CHECK_OK(ggipc_client_subscribe(c, "test/c/free", GGIPC_QOS_AT_MOST_ONCE, &HANDLER, &s, free_state, &sub));
    CHECK_OK(publish_text(c, "test/c/free", "one"));
    CHECK(counter_wait(&s.freed, 1) == 1);
    CHECK(counter_get(&s.messages) == 1);
    CHECK(counter_get(&s.closed) == 0); /* no callback after a free */
    ggipc_client_free(c);
    sub_state_destroy(&s);
}

static void test_free_client_with_open_stream(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    sub_state s;
    sub_state_init(&s);
    ggipc_subscription *sub = NULL;
    CHECK_OK(ggipc_client_subscribe(c, "test/c/orphan", GGIPC_QOS_AT_MOST_ONCE, &HANDLER, &s, free_state, &sub));
    ggipc_client_free(c);
    CHECK(counter_wait(&s.closed, 1) == 1); /* the stream ends with the connection */
    ggipc_subscription_close(sub); /* harmless on a dead stream */
    ggipc_subscription_free(sub);
    CHECK(counter_wait(&s.freed, 1) == 1);
    sub_state_destroy(&s);
}

typedef struct {
    counter done;
    counter freed;
    int failures;
    ggipc_error_kind last_kind;
} async_state;

static void on_complete(void *ud, const ggipc_error *e) {
    async_state *a = ud;
    if (e != NULL) {
        a->failures++;
        a->last_kind = ggipc_error_get_kind(e);
    }
    counter_add(&a->done);
}

static void free_async(void *ud) { counter_add(&((async_state *)ud)->freed); }

static void test_publish_async_and_begin(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    async_state a;
    memset(&a, 0, sizeof a);
    counter_init(&a.done);
    counter_init(&a.freed);
    ggipc_publish_request *ok = NULL, *denied = NULL;
    CHECK_OK(ggipc_publish_request_new("test/c/async", GGIPC_QOS_AT_MOST_ONCE, (const uint8_t *)"a", 1, &ok));
    CHECK_OK(ggipc_publish_request_new("denied/async", GGIPC_QOS_AT_MOST_ONCE, (const uint8_t *)"a", 1, &denied));
    for (int i = 0; i < 50; i++) {
        CHECK_OK(ggipc_client_publish_async(c, ok, on_complete, &a, free_async));
    }
    CHECK(counter_wait(&a.done, 50) == 50);
    CHECK(counter_wait(&a.freed, 50) == 50);
    CHECK(a.failures == 0);
    CHECK_OK(ggipc_client_publish_async(c, denied, on_complete, &a, free_async));
    CHECK(counter_wait(&a.done, 51) == 51);
    /* userdata is freed after the completion callback returns: wait for it too */
    CHECK(counter_wait(&a.freed, 51) == 51);
    CHECK(a.failures == 1 && a.last_kind == GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR);
    CHECK_ERR(ggipc_client_publish_async(NULL, ok, on_complete, &a, free_async), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(counter_get(&a.freed) == 51); /* rejected call: no callback, no free */

    ggipc_publish_operation *op = NULL;
    CHECK_OK(ggipc_client_publish_begin(c, ok, &op));
    CHECK(ggipc_publish_operation_wait(op, UINT64_MAX));
    CHECK_OK(ggipc_publish_operation_get_result(op));
    ggipc_publish_operation_free(op);
    CHECK_OK(ggipc_client_publish_begin(c, denied, &op));
    CHECK(ggipc_publish_operation_wait(op, WAIT_MS));
    CHECK_ERR(ggipc_publish_operation_get_result(op), GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR);
    ggipc_publish_operation_free(op);

    ggipc_publish_request_free(ok);
    ggipc_publish_request_free(denied);
    ggipc_client_free(c);
    counter_destroy(&a.done);
    counter_destroy(&a.freed);
}

typedef struct {
    counter connected;
    counter freed;
} life_state;

static void on_life(void *ud, ggipc_lifecycle_event ev, const ggipc_error *reason) {
    (void)reason;
    if (ev == GGIPC_LIFECYCLE_CONNECTED) {
        counter_add(&((life_state *)ud)->connected);
    }
}

static void free_life(void *ud) { counter_add(&((life_state *)ud)->freed); }

static void test_lifecycle_and_closed_client(void) {
    life_state l;
    counter_init(&l.connected);
    counter_init(&l.freed);
    ggipc_client_options *o = ggipc_client_options_new();
    CHECK_OK(ggipc_client_options_set_socket_path(o, g_socket));
    CHECK_OK(ggipc_client_options_set_auth_token(o, TOKEN_TEST));
    CHECK_OK(ggipc_client_options_set_connect_timeout_ms(o, 5000));
    CHECK_OK(ggipc_client_options_set_operation_timeout_ms(o, 5000));
    CHECK_OK(ggipc_client_options_set_lifecycle_callback(o, on_life, &l, free_life));
    ggipc_client *c = NULL;
    CHECK_OK(ggipc_client_connect(o, &c));
    ggipc_client_options_free(o);
    CHECK(counter_wait(&l.connected, 1) == 1);
    ggipc_client_close(c);
    CHECK_ERR(publish_text(c, "test/c/after-close", "x"), GGIPC_ERROR_KIND_CONNECTION_CLOSED);
    ggipc_client_free(c);
    CHECK(counter_wait(&l.freed, 1) == 1);
    counter_destroy(&l.connected);
    counter_destroy(&l.freed);
}

/* ---- runner ---- */

typedef struct {
    const char *name;
    void (*fn)(void);
} test_case;

/* ---- the generated model and operations ---- */

/* Checks that `err` has `kind` and exactly `message`, then frees it. */
static void check_error_text(ggipc_error *err, ggipc_error_kind kind, const char *message, int line) {
    if (err == NULL) {
        fprintf(stderr, "  line %d: no error, want %s \"%s\"\n", line, ggipc_error_kind_name(kind), message);
        g_failed_checks++;
        return;
    }
    if (ggipc_error_get_kind(err) != kind || strcmp(ggipc_error_get_message(err), message) != 0) {
        fprintf(stderr, "  line %d: got %s \"%s\", want %s \"%s\"\n", line,
                ggipc_error_kind_name(ggipc_error_get_kind(err)), ggipc_error_get_message(err),
                ggipc_error_kind_name(kind), message);
        g_failed_checks++;
    }
    ggipc_error_free(err);
}
#define CHECK_ERROR_TEXT(err, kind, message) check_error_text((err), (kind), (message), __LINE__)

static void test_model_accessors(void) {
    ggipc_publish_to_iot_core_request *r = ggipc_publish_to_iot_core_request_new();
    CHECK(r != NULL);
    CHECK(ggipc_publish_to_iot_core_request_get_topic_name(r) == NULL);
    CHECK_OK(ggipc_publish_to_iot_core_request_set_topic_name(r, "test/c/model"));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_qos(r, GGIPC_QOS_AT_LEAST_ONCE));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_payload(r, (const uint8_t *)"abc", 3));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_retain(r, true));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_message_expiry_interval_seconds(r, 42));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_payload_format(r, GGIPC_PAYLOAD_FORMAT_UTF8));
    ggipc_user_property *p = ggipc_user_property_new();
    CHECK_OK(ggipc_user_property_set_key(p, "k"));
    CHECK_OK(ggipc_user_property_set_value(p, "v"));
    CHECK_OK(ggipc_publish_to_iot_core_request_user_properties_add(r, p));
    ggipc_user_property_free(p); /* the request holds its own copy */

    ggipc_publish_to_iot_core_request *copy = ggipc_publish_to_iot_core_request_clone(r);
    ggipc_publish_to_iot_core_request_free(r);
    CHECK(copy != NULL);
    CHECK(strcmp(ggipc_publish_to_iot_core_request_get_topic_name(copy), "test/c/model") == 0);
    ggipc_qos q = 99;
    CHECK(ggipc_publish_to_iot_core_request_get_qos(copy, &q) && q == GGIPC_QOS_AT_LEAST_ONCE);
    size_t len = 0;
    const uint8_t *payload = ggipc_publish_to_iot_core_request_get_payload(copy, &len);
    CHECK(payload != NULL && len == 3 && memcmp(payload, "abc", 3) == 0);
    bool retain = false;
    CHECK(ggipc_publish_to_iot_core_request_get_retain(copy, &retain) && retain);
    int64_t expiry = 0;
    CHECK(ggipc_publish_to_iot_core_request_get_message_expiry_interval_seconds(copy, &expiry) && expiry == 42);
    CHECK(ggipc_publish_to_iot_core_request_user_properties_count(copy) == 1);
    const ggipc_user_property *got = ggipc_publish_to_iot_core_request_user_properties_get(copy, 0);
    CHECK(got != NULL && strcmp(ggipc_user_property_get_key(got), "k") == 0 &&
          strcmp(ggipc_user_property_get_value(got), "v") == 0);
    CHECK(ggipc_publish_to_iot_core_request_user_properties_get(copy, 1) == NULL);
    /* Absent members, clearing, and NULL objects. */
    CHECK(ggipc_publish_to_iot_core_request_get_correlation_data(copy, &len) == NULL && len == 0);
    CHECK_OK(ggipc_publish_to_iot_core_request_set_correlation_data(copy, (const uint8_t *)"", 0));
    CHECK(ggipc_publish_to_iot_core_request_get_correlation_data(copy, &len) != NULL && len == 0);
    CHECK_OK(ggipc_publish_to_iot_core_request_set_topic_name(copy, NULL));
    CHECK(ggipc_publish_to_iot_core_request_get_topic_name(copy) == NULL);
    ggipc_publish_to_iot_core_request_clear_retain(copy);
    CHECK(!ggipc_publish_to_iot_core_request_get_retain(copy, &retain));
    ggipc_publish_to_iot_core_request_user_properties_clear(copy);
    CHECK(ggipc_publish_to_iot_core_request_user_properties_count(copy) == 0);
    CHECK(ggipc_publish_to_iot_core_request_get_topic_name(NULL) == NULL);
    CHECK(!ggipc_publish_to_iot_core_request_get_qos(NULL, &q));
    CHECK(!ggipc_publish_to_iot_core_request_get_qos(copy, NULL));
    CHECK_ERR(ggipc_publish_to_iot_core_request_set_topic_name(NULL, "t"), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_publish_to_iot_core_request_set_topic_name(copy, "\xff"), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_publish_to_iot_core_request_set_payload(copy, NULL, 3), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_publish_to_iot_core_request_user_properties_add(copy, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    ggipc_publish_to_iot_core_request_free(copy);
    ggipc_publish_to_iot_core_request_free(NULL);

    /* A union holds one member; documents are JSON text; nested shapes are copied in, lent out. */
    ggipc_json_message *json = ggipc_json_message_new();
    CHECK_OK(ggipc_json_message_set_message(json, "{ \"a\" : [1, 2] }"));
    CHECK(strcmp(ggipc_json_message_get_message(json), "{\"a\":[1,2]}") == 0);
    CHECK_ERR(ggipc_json_message_set_message(json, "{not json"), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(strcmp(ggipc_json_message_get_message(json), "{\"a\":[1,2]}") == 0);
    ggipc_binary_message *bin = ggipc_binary_message_new();
    CHECK_OK(ggipc_binary_message_set_message(bin, (const uint8_t *)"\x00\x01", 2));
    ggipc_publish_message *pm = ggipc_publish_message_new();
    CHECK_OK(ggipc_publish_message_set_json_message(pm, json));
    CHECK(ggipc_publish_message_get_json_message(pm) != NULL);
    CHECK_OK(ggipc_publish_message_set_binary_message(pm, bin));
    CHECK(ggipc_publish_message_get_json_message(pm) == NULL);
    const ggipc_binary_message *b = ggipc_publish_message_get_binary_message(pm);
    CHECK(b != NULL && ggipc_binary_message_get_message(b, &len) != NULL && len == 2);
    ggipc_json_message_free(json);
    ggipc_binary_message_free(bin);
    ggipc_publish_message_free(pm);

    /* Lists of strings, timestamps, string enums. */
    ggipc_get_configuration_request *g = ggipc_get_configuration_request_new();
    CHECK_OK(ggipc_get_configuration_request_key_path_add(g, "a"));
    CHECK_OK(ggipc_get_configuration_request_key_path_add(g, "b"));
    CHECK(ggipc_get_configuration_request_key_path_count(g) == 2);
    CHECK(strcmp(ggipc_get_configuration_request_key_path_get(g, 1), "b") == 0);
    CHECK(ggipc_get_configuration_request_key_path_get(g, 2) == NULL);
    ggipc_get_configuration_request_free(g);
    ggipc_update_configuration_request *u = ggipc_update_configuration_request_new();
    CHECK_OK(ggipc_update_configuration_request_set_timestamp(u, 1700000000.5));
    double ts = 0;
    CHECK(ggipc_update_configuration_request_get_timestamp(u, &ts) && ts == 1700000000.5);
    CHECK_ERR(ggipc_update_configuration_request_set_timestamp(u, -1.0), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    ggipc_update_configuration_request_free(u);
    ggipc_subscribe_to_topic_request *st = ggipc_subscribe_to_topic_request_new();
    CHECK_OK(ggipc_subscribe_to_topic_request_set_receive_mode(st, GGIPC_RECEIVE_MODE_RECEIVE_MESSAGES_FROM_OTHERS));
    ggipc_receive_mode mode = 0;
    CHECK(ggipc_subscribe_to_topic_request_get_receive_mode(st, &mode) &&
          mode == GGIPC_RECEIVE_MODE_RECEIVE_MESSAGES_FROM_OTHERS);
    CHECK_ERROR_TEXT(ggipc_subscribe_to_topic_request_set_receive_mode(st, 7),
                     GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR, "Invalid ReceiveMode value: 7");
    ggipc_subscribe_to_topic_request_free(st);
}

/* A handler held up while messages arrive: the bounded queue keeps what it can and reports the rest. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int released;
    counter messages;
    /* Messages delivered plus messages reported dropped. */
    counter accounted;
    uint64_t dropped;
    counter lagged;
} slow_state;

static void slow_on_message(void *ud, const ggipc_message *m) {
    (void)m;
    slow_state *s = ud;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&s->mu);
    while (!s->released) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    counter_add(&s->messages);
    counter_add(&s->accounted);
}

static void slow_on_lagged(void *ud, uint64_t dropped) {
    slow_state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->dropped += dropped;
    pthread_mutex_unlock(&s->mu);
    counter_add(&s->lagged);
    counter_add_n(&s->accounted, (int)dropped); /* last: a round that sees every message sees this report */
}

static void test_subscription_queue_bounds_a_slow_handler(void) {
    ggipc_client_options *o = ggipc_client_options_new();
    CHECK_OK(ggipc_client_options_set_socket_path(o, g_socket));
    CHECK_OK(ggipc_client_options_set_auth_token(o, TOKEN_TEST));
    CHECK_OK(ggipc_client_options_set_subscription_queue(o, 2));
    ggipc_client *c = NULL;
    CHECK_OK(ggipc_client_connect(o, &c));
    ggipc_client_options_free(o);
    if (c == NULL) {
        return;
    }
    slow_state s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    counter_init(&s.messages);
    counter_init(&s.accounted);
    counter_init(&s.lagged);
    static const ggipc_subscription_handler slow = {.on_message = slow_on_message, .on_lagged = slow_on_lagged};
    ggipc_subscription *sub = NULL;
    CHECK_OK(ggipc_client_subscribe(c, "test/c/slow", GGIPC_QOS_AT_LEAST_ONCE, &slow, &s, NULL, &sub));
    /* Messages reach the client some time after their publishes return, so a round may end before the
     * queue overflows: rounds go on until one has dropped messages. Every round accounts for each one. */
    int published = 0;
    for (int round = 0; round < 20 && counter_get(&s.lagged) == 0; round++) {
        pthread_mutex_lock(&s.mu);
        s.released = 0;
        pthread_mutex_unlock(&s.mu);
        for (int i = 0; i < 10; i++) {
            CHECK_OK(publish_text(c, "test/c/slow", "m"));
        }
        published += 10;
        pthread_mutex_lock(&s.mu);
        s.released = 1;
        pthread_cond_broadcast(&s.cv);
        pthread_mutex_unlock(&s.mu);
        /* Nothing vanishes: every message is delivered or counted as dropped (in one or more on_lagged
         * calls). */
        CHECK(counter_wait(&s.accounted, published) == published);
    }
    CHECK(counter_get(&s.lagged) >= 1);
    pthread_mutex_lock(&s.mu);
    uint64_t dropped = s.dropped;
    pthread_mutex_unlock(&s.mu);
    CHECK(counter_get(&s.messages) == published - (int)dropped);
    /* Only the round that overflowed dropped messages, and the queue kept some of them. */
    CHECK(dropped >= 1 && dropped <= 8);
    ggipc_subscription_free(sub);
    ggipc_client_free(c);
    counter_destroy(&s.messages);
    counter_destroy(&s.accounted);
    counter_destroy(&s.lagged);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
}

/* The same bad input gives the nucleus' own error class and message, whichever function takes it. */
static void test_same_error_for_same_bad_input(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    const char *bad_qos = "Invalid QoS value: 2";
    ggipc_publish_request *r = NULL;
    CHECK_ERROR_TEXT(ggipc_publish_request_new("test/c/bad", 2, (const uint8_t *)"x", 1, &r),
                     GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR, bad_qos);
    CHECK(r == NULL);
    CHECK_OK(ggipc_publish_request_new("test/c/bad", GGIPC_QOS_AT_MOST_ONCE, (const uint8_t *)"x", 1, &r));
    CHECK_ERROR_TEXT(ggipc_publish_request_set_qos(r, 2), GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR, bad_qos);
    CHECK_ERROR_TEXT(ggipc_publish_request_set_payload_format(r, 7), GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR,
                     "Invalid PayloadFormat value: 7");
    ggipc_publish_request_free(r);
    CHECK_ERROR_TEXT(ggipc_client_publish_bytes(c, "test/c/bad", 2, (const uint8_t *)"x", 1),
                     GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR, bad_qos);
    ggipc_subscription *sub = NULL;
    static const ggipc_subscription_handler none = {NULL, NULL, NULL, NULL, NULL, NULL};
    CHECK_ERROR_TEXT(ggipc_client_subscribe(c, "test/c/bad", 2, &none, NULL, NULL, &sub),
                     GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR, bad_qos);
    CHECK(sub == NULL);

    ggipc_publish_to_iot_core_request *g = ggipc_publish_to_iot_core_request_new();
    CHECK_ERROR_TEXT(ggipc_publish_to_iot_core_request_set_qos(g, 2), GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR,
                     bad_qos);
    CHECK_ERROR_TEXT(ggipc_publish_to_iot_core_request_set_payload_format(g, 7),
                     GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR, "Invalid PayloadFormat value: 7");
    /* Missing topic: the server's check, sent as is. */
    CHECK_OK(ggipc_publish_to_iot_core_request_set_qos(g, GGIPC_QOS_AT_MOST_ONCE));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_payload(g, (const uint8_t *)"x", 1));
    ggipc_publish_to_iot_core_response *resp = NULL;
    CHECK_ERROR_TEXT(ggipc_client_publish_to_iot_core(c, g, 0, &resp), GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR,
                     "Topic is required");
    CHECK(resp == NULL);
    /* The server's QoS check when the QoS is left out. */
    CHECK_OK(ggipc_publish_to_iot_core_request_set_topic_name(g, "test/c/bad"));
    ggipc_publish_to_iot_core_request_clear_qos(g);
    CHECK_ERROR_TEXT(ggipc_client_publish_to_iot_core(c, g, 0, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR,
                     "QoS is required");
    ggipc_publish_to_iot_core_request_free(g);
    /* A negative timeout option, in the core's words. */
    ggipc_client_options *o = ggipc_client_options_new();
    CHECK_ERROR_TEXT(ggipc_client_options_set_connect_timeout_ms(o, -1000), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
                     "connect timeout must be a positive, finite number of seconds, got -1");
    CHECK_ERROR_TEXT(ggipc_client_options_set_operation_timeout_ms(o, -1000), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
                     "operation timeout must be a positive, finite number of seconds, got -1");
    ggipc_client_options_free(o);
    ggipc_client_free(c);
}

typedef struct {
    counter done;
    int kind;
    int has_response;
    counter freed;
} async_result;

static void on_get_configuration(void *userdata, const ggipc_error *error,
                                 const ggipc_get_configuration_response *response) {
    async_result *a = userdata;
    a->kind = error != NULL ? (int)ggipc_error_get_kind(error) : 0;
    a->has_response = response != NULL;
    counter_add(&a->done);
}

static void on_async_free(void *userdata) { counter_add(&((async_result *)userdata)->freed); }

static void on_topic_event(void *userdata, const ggipc_subscription_response_message *event) {
    (void)event;
    counter_add(userdata);
}

static void count_free(void *userdata) { counter_add(userdata); }

/* Operations beyond the MQTT proxy go out through the generated layer and come back as the server's typed
 * ServiceError (the test server implements only the MQTT proxy). */
static void test_new_operations_reach_the_server(void) {
    ggipc_client *c = connect_with(TOKEN_TEST);
    if (c == NULL) {
        return;
    }
    ggipc_get_configuration_request *g = ggipc_get_configuration_request_new();
    CHECK_OK(ggipc_get_configuration_request_key_path_add(g, "setting"));
    ggipc_get_configuration_response *resp = NULL;
    ggipc_error *e = ggipc_client_get_configuration(c, g, 0, &resp);
    /* The test component has no configuration: the nucleus' answer. */
    CHECK(e != NULL && ggipc_error_get_kind(e) == GGIPC_ERROR_KIND_RESOURCE_NOT_FOUND_ERROR);
    if (e != NULL) {
        CHECK(strcmp(ggipc_error_get_message(e), "Key not found") == 0);
        CHECK(ggipc_error_get_service_model_type(e) != NULL &&
              strcmp(ggipc_error_get_service_model_type(e), "aws.greengrass#ResourceNotFoundError") == 0);
        ggipc_error_free(e);
    }
    CHECK(resp == NULL);

    async_result a;
    counter_init(&a.done);
    counter_init(&a.freed);
    a.kind = -1;
    a.has_response = -1;
    CHECK_OK(ggipc_client_get_configuration_async(c, g, on_get_configuration, &a, on_async_free));
    CHECK(counter_wait(&a.done, 1) == 1);
    CHECK(counter_wait(&a.freed, 1) == 1);
    CHECK(a.kind == GGIPC_ERROR_KIND_RESOURCE_NOT_FOUND_ERROR && a.has_response == 0);
    CHECK_ERR(ggipc_client_get_configuration_async(c, NULL, on_get_configuration, &a, on_async_free),
              GGIPC_ERROR_KIND_INVALID_ARGUMENT);

    /* Started here, waited for (and its answer read) by this thread, then read out. */
    ggipc_call *call = NULL;
    CHECK_OK(ggipc_client_get_configuration_begin(c, g, &call));
    CHECK(call != NULL);
    CHECK(ggipc_call_wait(call, 5000));
    CHECK(ggipc_call_wait(call, 0)); /* completed stays completed */
    resp = NULL;
    CHECK_ERROR_TEXT(ggipc_call_get_configuration_response(call, &resp), GGIPC_ERROR_KIND_RESOURCE_NOT_FOUND_ERROR,
                     "Key not found");
    CHECK(resp == NULL);
    CHECK_ERROR_TEXT(ggipc_call_publish_to_topic_response(call, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
                     "this call is a aws.greengrass#GetConfiguration, not a aws.greengrass#PublishToTopic");
    ggipc_call_free(call);
    /* _finish: wait, outcome and release in one; the call is consumed whatever the outcome. */
    call = NULL;
    CHECK_OK(ggipc_client_get_configuration_begin(c, g, &call));
    resp = NULL;
    CHECK_ERROR_TEXT(ggipc_call_get_configuration_finish(call, &resp), GGIPC_ERROR_KIND_RESOURCE_NOT_FOUND_ERROR,
                     "Key not found");
    CHECK(resp == NULL);
    call = NULL;
    CHECK_OK(ggipc_client_get_configuration_begin(c, g, &call));
    CHECK(ggipc_call_wait(call, 5000)); /* already completed: finish gives the stored outcome */
    CHECK_ERROR_TEXT(ggipc_call_get_configuration_finish(call, NULL), GGIPC_ERROR_KIND_RESOURCE_NOT_FOUND_ERROR,
                     "Key not found");
    call = NULL;
    CHECK_OK(ggipc_client_get_configuration_begin(c, g, &call));
    CHECK_ERROR_TEXT(ggipc_call_publish_to_topic_finish(call, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
                     "this call is a aws.greengrass#GetConfiguration, not a aws.greengrass#PublishToTopic");
    CHECK_ERR(ggipc_call_get_configuration_finish(NULL, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_client_get_configuration_begin(c, g, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(!ggipc_call_wait(NULL, 0));
    ggipc_call_free(NULL);

    ggipc_publish_to_iot_core_request *pub = ggipc_publish_to_iot_core_request_new();
    CHECK_OK(ggipc_publish_to_iot_core_request_set_topic_name(pub, "test/c/begin"));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_qos(pub, GGIPC_QOS_AT_LEAST_ONCE));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_payload(pub, (const uint8_t *)"x", 1));
    call = NULL;
    CHECK_OK(ggipc_client_publish_to_iot_core_begin(c, pub, &call));
    CHECK(ggipc_call_wait(call, UINT64_MAX));
    ggipc_publish_to_iot_core_response *pub_resp = NULL;
    CHECK_OK(ggipc_call_publish_to_iot_core_response(call, &pub_resp));
    CHECK(pub_resp != NULL);
    ggipc_publish_to_iot_core_response_free(pub_resp);
    ggipc_call_free(call);

    /* _begin_view: the request as a borrowed struct, read during the call (the topic arrives: a denied one is
     * refused as such). */
    ggipc_publish_to_iot_core_request_view pv = {0};
    pv.topic_name = "test/c/begin";
    pv.has_qos = true;
    pv.qos = GGIPC_QOS_AT_LEAST_ONCE;
    pv.has_payload = true;
    pv.payload = (const uint8_t *)"x";
    pv.payload_len = 1;
    call = NULL;
    CHECK_OK(ggipc_client_publish_to_iot_core_begin_view(c, &pv, &call));
    CHECK(ggipc_call_wait(call, UINT64_MAX));
    CHECK_OK(ggipc_call_publish_to_iot_core_response(call, NULL));
    ggipc_call_free(call);
    call = NULL;
    CHECK_OK(ggipc_client_publish_to_iot_core_begin_view(c, &pv, &call));
    pub_resp = NULL;
    CHECK_OK(ggipc_call_publish_to_iot_core_finish(call, &pub_resp));
    CHECK(pub_resp != NULL);
    ggipc_publish_to_iot_core_response_free(pub_resp);
    ggipc_publish_to_iot_core_request_view denied_view = pv;
    denied_view.topic_name = "denied/view";
    call = NULL;
    CHECK_OK(ggipc_client_publish_to_iot_core_begin_view(c, &denied_view, &call));
    CHECK(ggipc_call_wait(call, UINT64_MAX));
    CHECK_ERROR_TEXT(ggipc_call_publish_to_iot_core_response(call, NULL), GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR,
                     "Not Authorized");
    ggipc_call_free(call);
    CHECK_ERROR_TEXT(ggipc_client_publish_to_iot_core_view(c, &denied_view, 0, NULL),
                     GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR, "Not Authorized");
    /* A value the setters refuse is refused with their error, and nothing is started. */
    ggipc_publish_to_iot_core_request_view bad = pv;
    bad.qos = 2;
    call = NULL;
    CHECK_ERROR_TEXT(ggipc_client_publish_to_iot_core_begin_view(c, &bad, &call),
                     GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR, "Invalid QoS value: 2");
    CHECK(call == NULL);
    CHECK_ERROR_TEXT(ggipc_client_publish_to_iot_core_view(c, &bad, 0, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR,
                     "Invalid QoS value: 2");
    bad = pv;
    bad.topic_name = "test/c/\xff";
    CHECK_ERROR_TEXT(ggipc_client_publish_to_iot_core_view(c, &bad, 0, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
                     "topicName is not valid UTF-8");
    bad = pv;
    bad.payload = NULL;
    bad.payload_len = 3;
    CHECK_ERR(ggipc_client_publish_to_iot_core_view(c, &bad, 0, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    bad = pv;
    bad.has_user_properties = true;
    bad.user_properties_count = 1;
    CHECK_ERR(ggipc_client_publish_to_iot_core_view(c, &bad, 0, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    /* The server's own checks when members are left out. */
    bad = pv;
    bad.topic_name = NULL;
    CHECK_ERROR_TEXT(ggipc_client_publish_to_iot_core_view(c, &bad, 0, NULL),
                     GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR, "Topic is required");
    CHECK_ERR(ggipc_client_publish_to_iot_core_begin_view(c, NULL, &call), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_client_publish_to_iot_core_begin_view(NULL, &pv, &call), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_client_publish_to_iot_core_begin_view(c, &pv, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK_ERR(ggipc_client_publish_to_iot_core_view(c, NULL, 0, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(call == NULL);
    ggipc_publish_to_iot_core_request_free(pub);
    CHECK(counter_get(&a.freed) == 1);
    counter_destroy(&a.done);
    counter_destroy(&a.freed);
    ggipc_get_configuration_request_free(g);

    ggipc_publish_to_topic_request *p = ggipc_publish_to_topic_request_new();
    CHECK_OK(ggipc_publish_to_topic_request_set_topic(p, "test/c/local"));
    ggipc_publish_message *pm = ggipc_publish_message_new();
    ggipc_json_message *jm = ggipc_json_message_new();
    CHECK_OK(ggipc_json_message_set_message(jm, "{\"n\":1}"));
    CHECK_OK(ggipc_publish_message_set_json_message(pm, jm));
    CHECK_OK(ggipc_publish_to_topic_request_set_publish_message(p, pm));
    ggipc_json_message_free(jm);
    ggipc_publish_message_free(pm);
    /* Its policies are the MQTT proxy's only: local pub/sub is refused. */
    CHECK_ERR(ggipc_client_publish_to_topic(c, p, 0, NULL), GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR);
    ggipc_publish_to_topic_request_free(p);

    counter events, freed;
    counter_init(&events);
    counter_init(&freed);
    ggipc_subscribe_to_topic_request *s = ggipc_subscribe_to_topic_request_new();
    CHECK_OK(ggipc_subscribe_to_topic_request_set_topic(s, "test/c/local"));
    const ggipc_subscribe_to_topic_handler h = {on_topic_event, NULL, NULL, NULL, NULL, NULL};
    ggipc_subscription *sub = NULL;
    CHECK_ERR(ggipc_client_subscribe_to_topic(c, s, &h, &events, count_free, &sub),
              GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR);
    CHECK(sub == NULL);
    CHECK(counter_get(&freed) == 0); /* a refused stream leaves userdata with the caller */
    CHECK_ERR(ggipc_client_subscribe_to_topic(c, s, NULL, &events, count_free, &sub),
              GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    ggipc_subscribe_to_topic_request_free(s);
    counter_destroy(&events);
    counter_destroy(&freed);

    /* The MQTT proxy through the generated layer succeeds. */
    ggipc_publish_to_iot_core_request *r = ggipc_publish_to_iot_core_request_new();
    CHECK_OK(ggipc_publish_to_iot_core_request_set_topic_name(r, "test/c/generated"));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_qos(r, GGIPC_QOS_AT_LEAST_ONCE));
    CHECK_OK(ggipc_publish_to_iot_core_request_set_payload(r, (const uint8_t *)"x", 1));
    ggipc_publish_to_iot_core_response *ok = NULL;
    CHECK_OK(ggipc_client_publish_to_iot_core(c, r, 0, &ok));
    CHECK(ok != NULL);
    ggipc_publish_to_iot_core_response_free(ok);
    ggipc_publish_to_iot_core_request_free(r);
    ggipc_client_free(c);
}

int main(void) {
    g_socket = getenv("GGIPC_TEST_SOCKET");
    if (g_socket == NULL || *g_socket == '\0') {
        fprintf(stderr, "GGIPC_TEST_SOCKET is not set\n");
        return 2;
    }
    const test_case tests[] = {
        {"version", test_version},
        {"null_and_invalid_arguments", test_null_and_invalid_arguments},
        {"connect_errors", test_connect_errors},
        {"publish_and_errors", test_publish_and_errors},
        {"subscribe_receive_mqtt5", test_subscribe_receive_mqtt5},
        {"message_fields", test_message_fields},
        {"message_fields_from_a_view", test_message_fields_from_a_view},
        {"subscribe_unauthorized", test_subscribe_unauthorized},
        {"callback_reenters_library", test_callback_reenters_library},
        {"close_inside_callback", test_close_inside_callback},
        {"free_inside_callback", test_free_inside_callback},
        {"free_client_with_open_stream", test_free_client_with_open_stream},
        {"publish_async_and_begin", test_publish_async_and_begin},
        {"lifecycle_and_closed_client", test_lifecycle_and_closed_client},
        {"model_accessors", test_model_accessors},
        {"same_error_for_same_bad_input", test_same_error_for_same_bad_input},
        {"subscription_queue_bounds_a_slow_handler", test_subscription_queue_bounds_a_slow_handler},
        {"new_operations_reach_the_server", test_new_operations_reach_the_server},
    };
    const size_t n = sizeof tests / sizeof tests[0];
    for (size_t i = 0; i < n; i++) {
        g_failed_checks = 0;
        tests[i].fn();
        if (g_failed_checks == 0) {
            g_passed++;
            printf("ok - %s\n", tests[i].name);
        } else {
            g_failed++;
            printf("not ok - %s (%d failed checks)\n", tests[i].name, g_failed_checks);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

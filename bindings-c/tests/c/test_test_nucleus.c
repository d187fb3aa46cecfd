/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of ggipc_test_nucleus_* (the in-process nucleus for users' C tests), used with the C client.
 * Needs nothing running. Prints one line per test and "N passed, M failed"; exit status 0 only if
 * every test passed.
 */
#define _POSIX_C_SOURCE 200809L

#include <ggipc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define CHECK_OK(err)                                                                              \
    do {                                                                                           \
        ggipc_error *e_ = (err);                                                                   \
        if (e_ != NULL) {                                                                          \
            fprintf(stderr, "  unexpected error at %s:%d: %s\n", __FILE__, __LINE__,               \
                    ggipc_error_get_message(e_));                                                  \
            ggipc_error_free(e_);                                                                  \
            g_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* Checks that `err` has `kind` and its message contains `text` (if not NULL); frees it. */
static void check_err(int line, ggipc_error *e, ggipc_error_kind kind, const char *text) {
    if (e == NULL) {
        fprintf(stderr, "  line %d: expected an error, got success\n", line);
        g_failed_checks++;
        return;
    }
    const char *msg = ggipc_error_get_message(e);
    if (ggipc_error_get_kind(e) != kind || (text != NULL && strstr(msg, text) == NULL)) {
        fprintf(stderr, "  line %d: got %s: %s\n", line, ggipc_error_kind_name(ggipc_error_get_kind(e)), msg);
        g_failed_checks++;
    }
    ggipc_error_free(e);
}
#define CHECK_ERR(err, kind, text) check_err(__LINE__, (err), (kind), (text))

#define COMPONENT "com.example.CTest"
#define POLICY                                                                                     \
    "{\"aws.greengrass.ipc.mqttproxy\": {\"p\": {\"operations\": [\"*\"], "                        \
    "\"resources\": [\"telemetry/#\", \"commands/#\"]}}}"

static ggipc_client *connect_to(const ggipc_test_nucleus *n, bool reconnect) {
    ggipc_client_options *o = ggipc_client_options_new();
    CHECK_OK(ggipc_client_options_set_socket_path(o, ggipc_test_nucleus_socket_path(n)));
    CHECK_OK(ggipc_client_options_set_auth_token(o, ggipc_test_nucleus_token(n)));
    CHECK_OK(ggipc_client_options_set_reconnect(o, reconnect));
    ggipc_client *c = NULL;
    CHECK_OK(ggipc_client_connect(o, &c));
    ggipc_client_options_free(o);
    return c;
}

static ggipc_error *publish(const ggipc_client *c, const char *topic, ggipc_qos qos, const char *text) {
    return ggipc_client_publish_bytes(c, topic, qos, (const uint8_t *)text, strlen(text));
}

static void test_publish_wait_and_denied_topic(void) {
    ggipc_test_nucleus *n = NULL;
    CHECK_OK(ggipc_test_nucleus_start(COMPONENT, POLICY, NULL, NULL, &n));
    if (n == NULL) return;
    ggipc_client *c = connect_to(n, false);
    CHECK_OK(publish(c, "telemetry/t", GGIPC_QOS_AT_LEAST_ONCE, "hello"));
    ggipc_message *m = NULL;
    CHECK_OK(ggipc_test_nucleus_wait_for_publish(n, "telemetry/#", 1, 5000, &m));
    if (m != NULL) {
        size_t len = 0;
        const uint8_t *p = ggipc_message_get_payload(m, &len);
        CHECK(len == 5 && memcmp(p, "hello", 5) == 0);
        CHECK(strcmp(ggipc_message_get_topic(m), "telemetry/t") == 0);
        ggipc_message_free(m);
    }
    CHECK(ggipc_test_nucleus_published_count(n) == 1);
    CHECK_ERR(publish(c, "secret/t", GGIPC_QOS_AT_LEAST_ONCE, "x"), GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR, NULL);
    /* A wait nobody satisfies fails within its timeout and says why. */
    CHECK_ERR(ggipc_test_nucleus_wait_for_publish(n, "secret/t", 1, 100, NULL), GGIPC_ERROR_KIND_TIMEOUT,
              "has a policy allowing aws.greengrass#PublishToIoTCore on 'secret/t'");
    CHECK_ERR(ggipc_test_nucleus_wait_for_subscription(n, "commands/#", 100), GGIPC_ERROR_KIND_TIMEOUT,
              "there are no subscriptions");
    CHECK_ERR(ggipc_test_nucleus_set_policy(n, "com.example.Unknown", NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
              "is not registered");
    CHECK_OK(ggipc_test_nucleus_fail_publishes(n, "telemetry/#", "broker says no"));
    CHECK_ERR(publish(c, "telemetry/t", GGIPC_QOS_AT_LEAST_ONCE, "x"), GGIPC_ERROR_KIND_SERVICE_ERROR,
              "broker says no");
    CHECK_OK(ggipc_test_nucleus_fail_publishes(n, NULL, NULL));
    CHECK_OK(publish(c, "telemetry/t", GGIPC_QOS_AT_LEAST_ONCE, "x"));
    ggipc_client_free(c);
    ggipc_test_nucleus_free(n);
}

static void test_outage_and_restart(void) {
    ggipc_test_nucleus *n = NULL;
    CHECK_OK(ggipc_test_nucleus_start(COMPONENT, POLICY, NULL, "CTESTTOKEN", &n));
    if (n == NULL) return;
    CHECK(strcmp(ggipc_test_nucleus_token(n), "CTESTTOKEN") == 0);
    ggipc_client *c = connect_to(n, true);
    CHECK_OK(ggipc_test_nucleus_set_connected(n, false));
    CHECK_ERR(publish(c, "telemetry/q0", GGIPC_QOS_AT_MOST_ONCE, "x"), GGIPC_ERROR_KIND_SERVICE_ERROR,
              "Device is offline. Dropping QoS 0 message.");
    CHECK_OK(publish(c, "telemetry/q1", GGIPC_QOS_AT_LEAST_ONCE, "spooled"));
    CHECK(ggipc_test_nucleus_spooled_count(n) == 1);
    CHECK(ggipc_test_nucleus_published_count(n) == 0);
    size_t delivered = 99;
    CHECK_OK(ggipc_test_nucleus_inject(n, "commands/x", (const uint8_t *)"x", 1, &delivered));
    CHECK(delivered == 0);
    CHECK_OK(ggipc_test_nucleus_set_connected(n, true));
    CHECK_OK(ggipc_test_nucleus_wait_for_publish(n, "telemetry/q1", 1, 5000, NULL));
    CHECK(ggipc_test_nucleus_spooled_count(n) == 0);

    CHECK_OK(ggipc_test_nucleus_restart(n));
    /* The reconnecting client comes back on the same socket with the same token. An operation made
     * while it reconnects waits for it; one made before it noticed the restart fails once. */
    ggipc_error *e = publish(c, "telemetry/after", GGIPC_QOS_AT_LEAST_ONCE, "after");
    if (e != NULL) {
        CHECK(ggipc_error_get_kind(e) == GGIPC_ERROR_KIND_CONNECTION_CLOSED);
        ggipc_error_free(e);
        CHECK_OK(publish(c, "telemetry/after", GGIPC_QOS_AT_LEAST_ONCE, "after"));
    }
    CHECK_OK(ggipc_test_nucleus_wait_for_publish(n, "telemetry/after", 1, 5000, NULL));
    CHECK_OK(ggipc_test_nucleus_stop(n));
    CHECK_OK(ggipc_test_nucleus_stop(n));
    ggipc_client_free(c);
    ggipc_test_nucleus_free(n);
}

static void test_configuration_and_bad_input(void) {
    ggipc_test_nucleus *n = NULL;
    CHECK_ERR(ggipc_test_nucleus_start(COMPONENT, "{not json", NULL, NULL, &n), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
              "not JSON");
    CHECK(n == NULL);
    CHECK_ERR(ggipc_test_nucleus_start(NULL, NULL, NULL, NULL, &n), GGIPC_ERROR_KIND_INVALID_ARGUMENT, NULL);
    CHECK_ERR(ggipc_test_nucleus_inject(NULL, "t", NULL, 0, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT, NULL);
    CHECK(ggipc_test_nucleus_socket_path(NULL) == NULL);
    ggipc_test_nucleus_free(NULL);
    CHECK_OK(ggipc_test_nucleus_start(COMPONENT, NULL, NULL, NULL, &n));
    if (n == NULL) return;
    CHECK_OK(ggipc_test_nucleus_set_configuration(n, COMPONENT, "{\"interval\": 5}"));
    const char *path[] = {"interval"};
    CHECK_ERR(ggipc_test_nucleus_update_configuration(n, COMPONENT, path, 1, "[1]"),
              GGIPC_ERROR_KIND_INVALID_ARGUMENT, "JSON object");
    CHECK_OK(ggipc_test_nucleus_update_configuration(n, COMPONENT, NULL, 0, "{\"interval\": 7}"));
    CHECK_ERR(ggipc_test_nucleus_set_configuration(n, "com.example.Unknown", "{}"),
              GGIPC_ERROR_KIND_INVALID_ARGUMENT, "is not registered");
    CHECK_ERR(ggipc_test_nucleus_setenv(n, "com.example.Unknown"), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
              COMPONENT);
    CHECK_OK(ggipc_test_nucleus_setenv(n, NULL));
    CHECK(strcmp(getenv("SVCUID"), ggipc_test_nucleus_token(n)) == 0);
    CHECK(strcmp(getenv("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"), ggipc_test_nucleus_socket_path(n)) ==
          0);
    size_t delivered = 99;
    const char *json = "{\"a\": 1}";
    CHECK_OK(ggipc_test_nucleus_publish_local(n, NULL, "local/t", (const uint8_t *)json, strlen(json), true, &delivered));
    CHECK(delivered == 0);
    CHECK_ERR(ggipc_test_nucleus_publish_local(n, NULL, "local/t", (const uint8_t *)"[", 1, true, NULL),
              GGIPC_ERROR_KIND_INVALID_ARGUMENT, "not JSON");
    CHECK_ERR(ggipc_test_nucleus_wait_for_local_subscription(n, "local/#", 50), GGIPC_ERROR_KIND_TIMEOUT,
              "there are none");
    ggipc_test_nucleus_free(n);
}

static void test_options_state_and_events(void) {
    ggipc_test_nucleus_options *o = ggipc_test_nucleus_options_new();
    CHECK(o != NULL);
    if (o == NULL) return;
    CHECK_ERR(ggipc_test_nucleus_options_set_offline_subscribe_timeout_ms(o, -5), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
              "offline subscribe timeout");
    CHECK_ERR(ggipc_test_nucleus_options_set_configuration(o, "[1]"), GGIPC_ERROR_KIND_INVALID_ARGUMENT,
              "JSON object");
    CHECK_ERR(ggipc_test_nucleus_options_set_configuration(o, "{nope"), GGIPC_ERROR_KIND_INVALID_ARGUMENT, "not JSON");
    CHECK_ERR(ggipc_test_nucleus_options_set_record(NULL, true), GGIPC_ERROR_KIND_INVALID_ARGUMENT, "options");
    CHECK_OK(ggipc_test_nucleus_options_set_configuration(o, "{\"interval\": 5}"));
    CHECK_OK(ggipc_test_nucleus_options_set_spool_max_bytes(o, 40));
    CHECK_OK(ggipc_test_nucleus_options_set_keep_qos0_when_offline(o, true));
    CHECK_OK(ggipc_test_nucleus_options_set_max_payload_bytes(o, 8));
    ggipc_test_nucleus *n = NULL;
    CHECK_OK(ggipc_test_nucleus_start_with_options(COMPONENT, POLICY, NULL, NULL, o, &n));
    ggipc_test_nucleus_options_free(o);
    if (n == NULL) return;

    char *config = NULL;
    CHECK_OK(ggipc_test_nucleus_configuration(n, COMPONENT, &config));
    CHECK(config != NULL && strcmp(config, "{\"interval\":5}") == 0);
    ggipc_test_nucleus_string_free(config);
    CHECK_OK(ggipc_test_nucleus_configuration(n, "com.example.Unknown", &config));
    CHECK(config == NULL);

    ggipc_client *c = connect_to(n, false);
    CHECK_ERR(publish(c, "telemetry/big", GGIPC_QOS_AT_MOST_ONCE, "123456789"), GGIPC_ERROR_KIND_SERVICE_ERROR,
              "exceeds the configured limit of 8 bytes");
    CHECK_OK(ggipc_test_nucleus_set_connected(n, false));
    CHECK(!ggipc_test_nucleus_is_connected(n));
    /* keepQos0WhenOffline: spooled, not refused; the 40-byte spool then evicts QoS 0 first. */
    CHECK_OK(publish(c, "telemetry/a", GGIPC_QOS_AT_MOST_ONCE, "q0-a"));
    CHECK(ggipc_test_nucleus_spooled_count(n) == 1);
    CHECK_OK(publish(c, "telemetry/b", GGIPC_QOS_AT_LEAST_ONCE, "q1-b"));
    CHECK_OK(publish(c, "telemetry/c", GGIPC_QOS_AT_LEAST_ONCE, "q1-c"));
    CHECK(ggipc_test_nucleus_spool_evicted(n) >= 1);
    CHECK_OK(ggipc_test_nucleus_set_connected(n, true));
    CHECK(ggipc_test_nucleus_is_connected(n));
    CHECK_OK(ggipc_test_nucleus_wait_for_publish(n, "telemetry/c", 1, 5000, NULL));

    /* The reported state is what the component sent last. */
    ggipc_reported_lifecycle_state state = 99;
    CHECK(!ggipc_test_nucleus_reported_state(n, COMPONENT, &state));
    ggipc_update_state_request *r = ggipc_update_state_request_new();
    CHECK_OK(ggipc_update_state_request_set_state(r, GGIPC_REPORTED_LIFECYCLE_STATE_RUNNING));
    CHECK_OK(ggipc_client_update_state(c, r, 0, NULL));
    ggipc_update_state_request_free(r);
    CHECK(ggipc_test_nucleus_reported_state(n, COMPONENT, &state));
    CHECK(state == GGIPC_REPORTED_LIFECYCLE_STATE_RUNNING);

    /* Nobody validates and nobody defers: the answers say so at once. */
    ggipc_configuration_validity_report *report = (ggipc_configuration_validity_report *)1;
    CHECK_OK(ggipc_test_nucleus_validate_configuration(n, COMPONENT, "d1", "{}", 200, &report));
    CHECK(report == NULL);
    CHECK_ERR(ggipc_test_nucleus_validate_configuration(n, COMPONENT, "d1", "{x", 200, &report),
              GGIPC_ERROR_KIND_INVALID_ARGUMENT, "not JSON");
    ggipc_test_deferrals *d = NULL;
    CHECK_OK(ggipc_test_nucleus_pre_component_update(n, "d1", false, 50, &d));
    CHECK(d != NULL && ggipc_test_deferrals_len(d) == 0);
    CHECK(ggipc_test_deferrals_component(d, 0) == NULL && ggipc_test_deferrals_request(d, 0) == NULL);
    ggipc_test_deferrals_free(d);
    CHECK_OK(ggipc_test_nucleus_post_component_update(n, "d1"));
    CHECK_ERR(ggipc_test_nucleus_post_component_update(n, NULL), GGIPC_ERROR_KIND_INVALID_ARGUMENT, NULL);
    CHECK(ggipc_test_nucleus_local_subscription_count(n) == 0);
    ggipc_client_free(c);
    ggipc_test_nucleus_free(n);
}

static void run(const char *name, void (*test)(void)) {
    int before = g_failed_checks;
    test();
    if (g_failed_checks == before) {
        printf("ok   %s\n", name);
        g_passed++;
    } else {
        printf("FAIL %s\n", name);
        g_failed++;
    }
}

int main(void) {
    run("publish, wait, denied topic, failures", test_publish_wait_and_denied_topic);
    run("broker outage and restart", test_outage_and_restart);
    run("configuration and bad input", test_configuration_and_bad_input);
    run("options, reported state, validation and update events", test_options_state_and_events);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

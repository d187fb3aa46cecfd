/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the C forwarder with ggipc_test_nucleus_*: the happy path, a denied topic, a broker outage and a
 * nucleus restart. Prints one line per test and "N passed, M failed"; exit status 0 only if all passed.
 */
#define _POSIX_C_SOURCE 200809L

#include "forwarder.h"

#include <stdlib.h>

static int g_failed_checks, g_passed, g_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
            g_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* Fails the check with the library's message (which says what happened instead). */
#define CHECK_OK(err)                                                                              \
    do {                                                                                           \
        ggipc_error *e_ = (err);                                                                   \
        if (e_ != NULL) {                                                                          \
            fprintf(stderr, "  %s:%d: %s\n", __FILE__, __LINE__, ggipc_error_get_message(e_));    \
            ggipc_error_free(e_);                                                                  \
            g_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* The component's recipe accessControl: local commands in, two telemetry topics out. */
static const char *POLICY =
    "{\"aws.greengrass.ipc.pubsub\": {\"com.example.Forwarder:commands\": {"
    "  \"operations\": [\"aws.greengrass#SubscribeToTopic\"], \"resources\": [\"commands/#\"]}},"
    " \"aws.greengrass.ipc.mqttproxy\": {\"com.example.Forwarder:telemetry\": {"
    "  \"operations\": [\"aws.greengrass#PublishToIoTCore\"],"
    "  \"resources\": [\"telemetry/temperature\", \"telemetry/humidity\"]}}}";

static ggipc_test_nucleus *n;
static forwarder f;

static void command(const char *topic, const char *payload) {
    CHECK_OK(ggipc_test_nucleus_publish_local(n, NULL, topic, (const uint8_t *)payload, strlen(payload), false, NULL));
}

/* The payload of the last publish to `topic`, compared with `want`. */
static void expect_published(const char *topic, const char *want) {
    ggipc_message *m = NULL;
    CHECK_OK(ggipc_test_nucleus_wait_for_publish(n, topic, 1, 5000, &m));
    if (m == NULL) return;
    size_t len = 0;
    const uint8_t *p = ggipc_message_get_payload(m, &len);
    CHECK(len == strlen(want) && memcmp(p, want, len) == 0);
    ggipc_message_free(m);
}

static void happy_path(void) {
    command("commands/temperature", "21.5");
    expect_published("telemetry/temperature", "21.5");
    CHECK(forwarder_wait_handled(&f, 1, 5000) && f.forwarded == 1);
}

static void denied_topic(void) {
    command("commands/secret", "x");
    command("commands/humidity", "40");
    expect_published("telemetry/humidity", "40");
    CHECK(forwarder_wait_handled(&f, 2, 5000));
    CHECK(f.errors == 1 && strcmp(f.last_error, "Not Authorized") == 0);
    ggipc_error *e = ggipc_test_nucleus_wait_for_publish(n, "telemetry/secret", 1, 100, NULL);
    CHECK(e != NULL && ggipc_error_get_kind(e) == GGIPC_ERROR_KIND_TIMEOUT);
    ggipc_error_free(e);
}

static void broker_outage(void) {
    CHECK_OK(ggipc_test_nucleus_set_connected(n, false));
    command("commands/temperature", "during");
    CHECK(forwarder_wait_handled(&f, 1, 5000) && f.forwarded == 1); /* answered once spooled */
    CHECK(ggipc_test_nucleus_spooled_count(n) == 1 && ggipc_test_nucleus_published_count(n) == 0);
    CHECK_OK(ggipc_test_nucleus_set_connected(n, true));
    expect_published("telemetry/temperature", "during");
    CHECK(f.errors == 0);
}

static void nucleus_restart(void) {
    CHECK_OK(ggipc_test_nucleus_restart(n));
    CHECK_OK(ggipc_test_nucleus_wait_for_local_subscription(n, "commands/#", 15000));
    command("commands/temperature", "after");
    expect_published("telemetry/temperature", "after");
    CHECK(forwarder_wait_handled(&f, 1, 5000) && f.errors == 0);
}

/* Each test gets a fresh nucleus and a freshly started component. */
static void run(const char *name, void (*test)(void)) {
    int before = g_failed_checks;
    CHECK_OK(ggipc_test_nucleus_start("com.example.Forwarder", POLICY, NULL, NULL, &n));
    if (n != NULL) {
        CHECK_OK(ggipc_test_nucleus_setenv(n, NULL)); /* the component connects as on a device */
        ggipc_error *e = forwarder_start(&f);
        CHECK_OK(e);
        if (e == NULL) {
            CHECK_OK(ggipc_test_nucleus_wait_for_local_subscription(n, "commands/#", 5000));
            test();
        }
        forwarder_stop(&f);
        ggipc_test_nucleus_free(n);
        n = NULL;
    }
    printf("%s %s\n", g_failed_checks == before ? "ok  " : "FAIL", name);
    if (g_failed_checks == before) g_passed++; else g_failed++;
}

int main(void) {
    run("forwards a command to telemetry", happy_path);
    run("a denied topic is reported and forwarding goes on", denied_topic);
    run("commands during a broker outage are spooled and sent after it", broker_outage);
    run("forwarding resumes after a nucleus restart", nucleus_restart);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

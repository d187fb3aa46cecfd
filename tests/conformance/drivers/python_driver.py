"""Conformance scenarios for the Python Greengrass IPC clients: the official `awsiot` package and `ggipc`.

    python python_driver.py awsiot|ggipc v1|v2 SCENARIO

The same code runs on both packages (only the module name differs, as the porting rule says). The identity comes
from the environment the nucleus gives (SVCUID, AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT). Prints one
JSON line {"scenario", "ok", "reason"} and exits 0; a crash or a hang is reported by the runner.
"""

import datetime
import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid

T = 10.0  # seconds: every wait in a scenario has this deadline


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Waiter:
    """Collects events and wakes waiters on a condition, with a deadline."""

    def __init__(self):
        self.cv = threading.Condition()
        self.items = []
        self.closed = False
        self.errors = []

    def push(self, item):
        with self.cv:
            self.items.append(item)
            self.cv.notify_all()

    def close(self):
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def error(self, e):
        with self.cv:
            self.errors.append(e)
            self.cv.notify_all()
        return True

    def wait(self, pred, what, timeout=T):
        with self.cv:
            if not self.cv.wait_for(lambda: pred(self), timeout):
                raise Fail(f"timed out after {timeout:.0f} s waiting for {what}")


class Client:
    """The operations the scenarios need, on the V1 or V2 API of one package."""

    def __init__(self, pkg, api, lifecycle=None):
        self.pkg, self.api = pkg, api
        self.ipc = importlib.import_module(pkg + ".greengrasscoreipc")
        self.model = importlib.import_module(pkg + ".greengrasscoreipc.model")
        if api == "v1":
            kw = {"lifecycle_handler": lifecycle} if lifecycle else {}
            self.c = self.ipc.connect(**kw)
        else:
            clientv2 = importlib.import_module(pkg + ".greengrasscoreipc.clientv2")
            if lifecycle:
                self.c = clientv2.GreengrassCoreIPCClientV2(client=self.ipc.connect(lifecycle_handler=lifecycle))
            else:
                self.c = clientv2.GreengrassCoreIPCClientV2()

    def publish_async(self, **kw):
        if self.api == "v1":
            op = self.c.new_publish_to_iot_core()
            op.activate(self.model.PublishToIoTCoreRequest(**kw))
            return op.get_response()
        return self.c.publish_to_iot_core_async(**kw)

    def publish(self, **kw):
        return self.publish_async(**kw).result(T)

    def subscribe(self, topic, qos="0"):
        w = Waiter()
        if self.api == "v1":
            ipc = self.ipc

            class H(ipc.client.SubscribeToIoTCoreStreamHandler):
                def on_stream_event(self, event):
                    w.push(event.message)

                def on_stream_error(self, error):
                    return w.error(error)

                def on_stream_closed(self):
                    w.close()

            op = self.c.new_subscribe_to_iot_core(H())
            op.activate(self.model.SubscribeToIoTCoreRequest(topic_name=topic, qos=qos))
            op.get_response().result(T)
        else:
            fut, op = self.c.subscribe_to_iot_core_async(
                topic_name=topic, qos=qos, on_stream_event=lambda e: w.push(e.message),
                on_stream_error=w.error, on_stream_closed=w.close)
            fut.result(T)
        return w, op

    def publish_local(self, topic, publish_message):
        req = dict(topic=topic, publish_message=publish_message)
        if self.api == "v1":
            op = self.c.new_publish_to_topic()
            op.activate(self.model.PublishToTopicRequest(**req))
            return op.get_response().result(T)
        return self.c.publish_to_topic(**req)

    def subscribe_local(self, topic):
        w = Waiter()
        if self.api == "v1":
            ipc = self.ipc

            class H(ipc.client.SubscribeToTopicStreamHandler):
                def on_stream_event(self, event):
                    w.push(event)

                def on_stream_error(self, error):
                    return w.error(error)

                def on_stream_closed(self):
                    w.close()

            op = self.c.new_subscribe_to_topic(H())
            op.activate(self.model.SubscribeToTopicRequest(topic=topic))
            op.get_response().result(T)
        else:
            fut, op = self.c.subscribe_to_topic_async(
                topic=topic, on_stream_event=w.push, on_stream_error=w.error, on_stream_closed=w.close)
            fut.result(T)
        return w, op

    def connection_status(self):
        w = Waiter()
        if self.api == "v1":
            ipc = self.ipc

            class H(ipc.client.SubscribeToIoTCoreConnectionStatusStreamHandler):
                def on_stream_event(self, event):
                    w.push(event)

                def on_stream_error(self, error):
                    return w.error(error)

                def on_stream_closed(self):
                    w.close()

            op = self.c.new_subscribe_to_iot_core_connection_status(H())
            op.activate(self.model.SubscribeToIoTCoreConnectionStatusRequest())
            op.get_response().result(T)
        else:
            fut, op = self.c.subscribe_to_iot_core_connection_status_async(
                on_stream_event=w.push, on_stream_error=w.error, on_stream_closed=w.close)
            fut.result(T)
        return w, op

    def call(self, name, **kw):
        """A request-response operation by its snake-case name, e.g. `get_configuration`."""
        if self.api == "v1":
            op = getattr(self.c, "new_" + name)()
            op.activate(getattr(self.model, camel(name) + "Request")(**kw))
            return op.get_response().result(T)
        return getattr(self.c, name)(**kw)

    def stream(self, name, **kw):
        """A streaming operation by its snake-case name; its events are collected in a Waiter."""
        w = Waiter()
        if self.api == "v1":
            base = getattr(self.ipc.client, camel(name) + "StreamHandler")

            class H(base):
                def on_stream_event(self, event):
                    w.push(event)

                def on_stream_error(self, error):
                    return w.error(error)

                def on_stream_closed(self):
                    w.close()

            op = getattr(self.c, "new_" + name)(H())
            op.activate(getattr(self.model, camel(name) + "Request")(**kw))
            op.get_response().result(T)
        else:
            fut, op = getattr(self.c, name + "_async")(on_stream_event=w.push, on_stream_error=w.error,
                                                       on_stream_closed=w.close, **kw)
            fut.result(T)
        return w, op

    def close(self):
        if self.api == "v1":
            self.c.close().result(T)
        else:
            self.c.close()


def camel(snake):
    return "".join(p.capitalize() for p in snake.split("_")).replace("IotCore", "IoTCore")


def unique(prefix):
    return f"conf/{prefix}/{uuid.uuid4().hex[:8]}"


def expect_error(fut_fn, cls_name, text):
    try:
        fut_fn()
    except Exception as e:  # the modeled error classes of the package under test
        name = type(e).__name__
        msg = getattr(e, "message", None)
        check(name == cls_name, f"expected {cls_name}, got {name}: {e!r}")
        check(msg is not None and text in msg, f"{name} message {msg!r} does not contain {text!r}")
        return f"{name}: {msg}"
    raise Fail(f"expected {cls_name}, the call succeeded")


def s_connect_good(pkg, api):
    c = Client(pkg, api)
    c.close()


def s_connect_bad_token(pkg, api):
    t0 = time.monotonic()
    try:
        c = Client(pkg, api)
    except Exception as e:
        return f"refused in {time.monotonic() - t0:.2f} s with {type(e).__name__}: {e}"
    try:
        c.publish(topic_name=unique("bad"), qos="0", payload=b"x")
    except Exception as e:
        return f"connect() returned but the first call failed with {type(e).__name__}: {e}"
    raise Fail("a bad token was accepted")


def publish_mqtt5(pkg, api, qos):
    c = Client(pkg, api)
    topic = unique("mqtt5")
    w, _ = c.subscribe(topic, qos)
    m = c.model
    c.publish(topic_name=topic, qos=qos, payload=b"hello mqtt5", retain=False,
              user_properties=[m.UserProperty(key="k1", value="v1"), m.UserProperty(key="k2", value="v2")],
              message_expiry_interval_seconds=3600, correlation_data=b"\x00corr\xff", response_topic="conf/reply",
              payload_format=m.PayloadFormat.UTF8, content_type="text/plain")
    w.wait(lambda w: w.items, "the event")
    e = w.items[0]
    check(e.topic_name == topic, f"topic {e.topic_name!r}")
    check(e.payload == b"hello mqtt5", f"payload {e.payload!r}")
    props = [(p.key, p.value) for p in (e.user_properties or [])]
    check(props == [("k1", "v1"), ("k2", "v2")], f"user properties {props}")
    check(e.correlation_data == b"\x00corr\xff", f"correlation data {e.correlation_data!r}")
    check(e.response_topic == "conf/reply", f"response topic {e.response_topic!r}")
    check(e.payload_format == "1", f"payload format {e.payload_format!r}")
    exp = e.message_expiry_interval_seconds
    check(exp is not None and 0 < exp <= 3600, f"message expiry {exp!r}")
    c.close()
    return f"all fields delivered (contentType {'kept' if e.content_type else 'dropped'})"


def s_publish_qos0_mqtt5(pkg, api):
    return publish_mqtt5(pkg, api, "0")


def s_publish_qos1_mqtt5(pkg, api):
    return publish_mqtt5(pkg, api, "1")


def s_wildcard(pkg, api):
    c = Client(pkg, api)
    base = unique("wild")
    plus, _ = c.subscribe(base + "/+/x")
    hash_, _ = c.subscribe(base + "/#")
    c.publish(topic_name=base + "/a/x", qos="1", payload=b"1")
    c.publish(topic_name=base + "/b/y", qos="1", payload=b"2")
    hash_.wait(lambda w: len(w.items) >= 2, "two events on #")
    plus.wait(lambda w: len(w.items) >= 1, "one event on +/x")
    check([e.topic_name for e in hash_.items] == [base + "/a/x", base + "/b/y"], "order or topics on #")
    check([e.topic_name for e in plus.items] == [base + "/a/x"], f"+/x got {[e.topic_name for e in plus.items]}")
    c.close()


def roundtrip(pkg, api, payload):
    c = Client(pkg, api)
    topic = unique("payload")
    w, _ = c.subscribe(topic)
    c.publish(topic_name=topic, qos="1", payload=payload)
    w.wait(lambda w: w.items, "the event")
    check(w.items[0].payload == payload, f"payload differs ({len(w.items[0].payload)} bytes back)")
    c.close()


def s_binary_payload(pkg, api):
    roundtrip(pkg, api, bytes(range(256)))


def s_payload_128k(pkg, api):
    roundtrip(pkg, api, os.urandom(131072))


def s_service_error(pkg, api):
    c = Client(pkg, api)
    r = expect_error(lambda: c.publish(topic_name=unique("big"), qos="1", payload=b"x" * 131073), "ServiceError",
                     "exceeds the configured limit of 131072 bytes")
    c.close()
    return r


def s_unauthorized(pkg, api):
    c = Client(pkg, api)
    r = expect_error(lambda: c.publish(topic_name="forbidden/x", qos="0", payload=b"x"), "UnauthorizedError",
                     "Not Authorized")
    expect_error(lambda: c.subscribe("forbidden/#"), "UnauthorizedError", "Not Authorized")
    c.close()
    return r + " (publish and subscribe)"


def s_invalid_arguments(pkg, api):
    c = Client(pkg, api)
    r = expect_error(lambda: c.publish(topic_name=unique("inv"), payload=b"x"), "InvalidArgumentsError",
                     "QoS is required")
    c.close()
    return r


def s_server_terminate(pkg, api):
    c = Client(pkg, api)
    w, _ = c.subscribe(unique("term"))
    c.publish(topic_name="conf/ctl/terminate", qos="0", payload=b"x")
    w.wait(lambda w: w.closed, "on_stream_closed")
    c.publish(topic_name=unique("term"), qos="1", payload=b"after")
    c.close()


def s_server_ping(pkg, api):
    ipc = importlib.import_module(pkg + ".eventstreamrpc")
    pings = Waiter()

    class L(ipc.LifecycleHandler):
        def on_ping(self, headers, payload):
            pings.push(payload)

    c = Client(pkg, api, lifecycle=L())
    c.publish(topic_name="conf/ctl/ping", qos="0", payload=b"x")
    pings.wait(lambda w: w.items, "on_ping")
    check(pings.items[0] == b"server-ping", f"ping payload {pings.items[0]!r}")
    c.publish(topic_name=unique("ping"), qos="1", payload=b"after")
    c.close()


def s_close_while_streaming(pkg, api):
    c = Client(pkg, api)
    topic = unique("flood")
    w, op = c.subscribe(topic)
    futs = [c.publish_async(topic_name=topic, qos="0", payload=b"%d" % i) for i in range(200)]
    w.wait(lambda w: w.items, "the first event")
    op.close().result(T)
    for f in futs:
        f.result(T)
    c.publish(topic_name=topic, qos="1", payload=b"after close")
    # now close the whole connection with a subscription open and publishes in flight
    w2, _ = c.subscribe(topic)
    futs = [c.publish_async(topic_name=topic, qos="0", payload=b"%d" % i) for i in range(200)]
    w2.wait(lambda w: w.items, "the first event of the second subscription")
    t0 = time.monotonic()
    c.close()
    took = time.monotonic() - t0
    check(took < T, f"close took {took:.1f} s")
    c2 = Client(pkg, api)
    c2.publish(topic_name=topic, qos="1", payload=b"server still serving")
    c2.close()


def s_local_pubsub(pkg, api):
    c = Client(pkg, api)
    m = c.model
    topic = unique("local")
    w, _ = c.subscribe_local(topic)
    c.publish_local(topic, m.PublishMessage(json_message=m.JsonMessage(message={"n": 1, "s": "ü"})))
    c.publish_local(topic, m.PublishMessage(binary_message=m.BinaryMessage(message=bytes(range(256)))))
    w.wait(lambda w: len(w.items) >= 2, "two local messages")
    j, b = w.items[0], w.items[1]
    check(j.json_message is not None and j.binary_message is None, f"first event {j!r}")
    check(j.json_message.message == {"n": 1, "s": "ü"}, f"JSON message {j.json_message.message!r}")
    ctx = j.json_message.context
    check(ctx is not None and ctx.topic == topic, f"JSON context {ctx!r}")
    check(b.binary_message is not None and b.json_message is None, f"second event {b!r}")
    check(b.binary_message.message == bytes(range(256)), "binary message differs")
    bctx = b.binary_message.context
    check(bctx is not None and bctx.topic == topic, f"binary context {bctx!r}")
    c.close()


def s_local_pubsub_invalid(pkg, api):
    c = Client(pkg, api)
    m = c.model
    r = expect_error(lambda: c.publish_local(unique("local"), None), "InvalidArgumentsError",
                     "Publish message is required")
    one = m.PublishMessage(binary_message=m.BinaryMessage(message=b"x"))
    expect_error(lambda: c.publish_local("forbidden/x", one), "UnauthorizedError",
                 "is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource "
                 "forbidden/x")
    c.close()
    return r + " (and UnauthorizedError outside the policy)"


def s_connection_status(pkg, api):
    c = Client(pkg, api)
    w, _ = c.connection_status()
    w.wait(lambda w: w.items, "the first status event")
    ev = w.items[0].connection_status_event
    check(ev is not None and ev.status == "CONNECTED", f"first event {w.items[0]!r}")
    c.close()


COMPONENT = "io.ggipc.conformance.Client"


def now(offset=0.0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)


def trigger(what):
    """Asks the runner for a deployment (see run.py: TRIGGER)."""
    print("TRIGGER " + what, flush=True)


def s_config_get(pkg, api):
    c = Client(pkg, api)
    r = c.call("get_configuration")
    check(r.component_name == COMPONENT, f"componentName {r.component_name!r}")
    v = r.value
    check(v["settings"]["topic"] == "conf/settings" and v["settings"]["rate"] == 5
          and v["settings"]["nested"] == {"flag": True}, f"whole configuration {v!r}")
    leaf = c.call("get_configuration", component_name=COMPONENT, key_path=["settings", "topic"]).value
    check(leaf == {"topic": "conf/settings"}, f"leaf {leaf!r}")
    obj = c.call("get_configuration", key_path=["settings", "nested"]).value
    check(obj == {"flag": True}, f"object {obj!r}")
    c.close()


def s_config_update(pkg, api):
    c = Client(pkg, api)
    uid = uuid.uuid4().hex[:8]
    w, _ = c.stream("subscribe_to_configuration_update", key_path=["scratch"])
    c.call("update_configuration", key_path=["scratch", uid], timestamp=now(), value_to_merge={"value": "one"})
    paths = lambda w: [tuple(e.configuration_update_event.key_path) for e in w.items]  # noqa: E731
    w.wait(lambda w: ("scratch", uid, "value") in paths(w), "the event for scratch/" + uid + "/value")
    ev = w.items[-1].configuration_update_event
    check(ev.component_name == COMPONENT, f"event componentName {ev.component_name!r}")
    got = c.call("get_configuration", key_path=["scratch", uid, "value"]).value
    check(got == {"value": "one"}, f"after the update {got!r}")
    # Without a key path the value merges at the root.
    c.call("update_configuration", timestamp=now(), value_to_merge={"scratch": {uid: {"value": "two"}}})
    w.wait(lambda w: paths(w).count(("scratch", uid, "value")) >= 2, "the second event")
    got = c.call("get_configuration", key_path=["scratch", uid]).value
    check(got == {"value": "two"}, f"after the root update {got!r}")
    check(all(p[:2] == ("scratch", uid) for p in paths(w)), f"events {paths(w)}")
    c.close()
    return f"events {paths(w)}"


def s_config_update_refused(pkg, api):
    c = Client(pkg, api)
    uid = uuid.uuid4().hex[:8]
    c.call("update_configuration", key_path=["scratch", uid], timestamp=now(), value_to_merge={"value": "a"})
    c.call("update_configuration", key_path=["scratch", uid], timestamp=now(3600), value_to_merge={"value": "future"})
    r = expect_error(lambda: c.call("update_configuration", key_path=["scratch", uid], timestamp=now(),
                                    value_to_merge={"value": "older"}),
                     "FailedUpdateConditionCheckError",
                     "Proposed timestamp is older than the config's latest modified timestamp")
    got = c.call("get_configuration", key_path=["scratch", uid, "value"]).value
    check(got == {"value": "future"}, f"after the refused update {got!r}")
    c.close()
    return r


def s_config_invalid(pkg, api):
    c = Client(pkg, api)
    r = expect_error(lambda: c.call("update_configuration", key_path=["scratch"], value_to_merge={"a": "b"}),
                     "InvalidArgumentsError", "Timestamp is required")
    expect_error(lambda: c.call("update_configuration", key_path=["scratch"], timestamp=now()),
                 "InvalidArgumentsError", "ValueToMerge is required")
    expect_error(lambda: c.call("update_configuration", timestamp=now(), value_to_merge={"accessControl": {}}),
                 "InvalidArgumentsError", "Config update is not allowed for following fields [accessControl]")
    expect_error(lambda: c.call("update_configuration", key_path=["accessControl", "x"], timestamp=now(),
                                value_to_merge={"a": "b"}),
                 "InvalidArgumentsError", "Config update is not allowed for following fields [accessControl]")
    expect_error(lambda: c.call("get_configuration", key_path=["settings", "missing"]), "ResourceNotFoundError",
                 "Key not found")
    expect_error(lambda: c.call("get_configuration", component_name="no.Such.Component"), "ResourceNotFoundError",
                 "Key not found")
    expect_error(lambda: c.stream("subscribe_to_configuration_update", key_path=["missing"]),
                 "ResourceNotFoundError", "Key not found")
    c.close()
    return r + " (and the others)"


def s_config_validate(pkg, api):
    c = Client(pkg, api)
    m = c.model
    w, _ = c.stream("subscribe_to_validate_configuration_updates")
    trigger("validate")
    w.wait(lambda w: w.items, "the validation event")
    ev = w.items[0].validate_configuration_update_event
    check(ev is not None and ev.deployment_id, f"validation event {w.items[0]!r}")
    conf = ev.configuration
    check(conf["scratch"]["validated"] == "yes" and conf["settings"]["topic"] == "conf/settings",
          f"proposed configuration {conf!r}")
    c.call("send_configuration_validity_report", configuration_validity_report=m.ConfigurationValidityReport(
        status=m.ConfigurationValidityStatus.REJECTED, deployment_id=ev.deployment_id,
        message="conformance rejects"))
    c.close()
    return f"deployment {ev.deployment_id} rejected"


def s_update_state(pkg, api):
    c = Client(pkg, api)
    m = c.model
    c.call("update_state", state=m.ReportedLifecycleState.RUNNING)
    r = expect_error(lambda: c.call("update_state"), "InvalidArgumentsError", "State is required")
    c.close()
    return r


def s_lifecycle_invalid(pkg, api):
    c = Client(pkg, api)
    m = c.model
    r = expect_error(lambda: c.call("defer_component_update", deployment_id="d-none", recheck_after_ms=1000),
                     "InvalidArgumentsError", "Component is not subscribed to component update events")
    expect_error(lambda: c.call("send_configuration_validity_report",
                                configuration_validity_report=m.ConfigurationValidityReport(
                                    status=m.ConfigurationValidityStatus.ACCEPTED, deployment_id="d-none")),
                 "InvalidArgumentsError", "Validation request either timed out or was never made")
    expect_error(lambda: c.call("send_configuration_validity_report",
                                configuration_validity_report=m.ConfigurationValidityReport(
                                    status=m.ConfigurationValidityStatus.ACCEPTED)),
                 "InvalidArgumentsError",
                 "Cannot accept configuration validity report, the deployment ID provided was null")
    c.stream("subscribe_to_component_updates")
    expect_error(lambda: c.call("defer_component_update", deployment_id="d-none", recheck_after_ms=1000),
                 "ServiceError", "Time limit to respond to PreComponentUpdateEvent exceeded")
    c.close()
    return r + " (and the others)"


def s_component_updates(pkg, api):
    c = Client(pkg, api)
    w, _ = c.stream("subscribe_to_component_updates")
    trigger("deploy")
    w.wait(lambda w: w.items, "the pre-update event")
    pre = w.items[0].pre_update_event
    check(pre is not None and pre.deployment_id and pre.is_ggc_restarting is False, f"first event {w.items[0]!r}")
    c.call("defer_component_update", deployment_id=pre.deployment_id, message="conformance busy",
           recheck_after_ms=500)
    w.wait(lambda w: len(w.items) >= 2, "the pre-update event after the deferral")
    again = w.items[1].pre_update_event
    check(again is not None and again.deployment_id == pre.deployment_id, f"second event {w.items[1]!r}")
    c.call("defer_component_update", deployment_id=pre.deployment_id, recheck_after_ms=0)
    w.wait(lambda w: len(w.items) >= 3, "the post-update event")
    post = w.items[2].post_update_event
    check(post is not None and post.deployment_id == pre.deployment_id, f"third event {w.items[2]!r}")
    c.close()
    return f"deployment {pre.deployment_id}: deferred once, then post-update"


def main():
    pkg, api, scenario = sys.argv[1:4]
    fn = globals().get("s_" + scenario)
    if fn is None:
        print(json.dumps({"scenario": scenario, "ok": False, "reason": "unknown scenario"}))
        return
    try:
        detail = fn(pkg, api)
        out = {"scenario": scenario, "ok": True, "reason": detail or ""}
    except Fail as e:
        out = {"scenario": scenario, "ok": False, "reason": str(e)}
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)[-1]
        out = {"scenario": scenario, "ok": False,
               "reason": f"{type(e).__name__}: {e} (at {os.path.basename(tb.filename)}:{tb.lineno})"}
    print(json.dumps(out), flush=True)
    os._exit(0)  # do not let a stuck native thread keep the process alive


if __name__ == "__main__":
    main()

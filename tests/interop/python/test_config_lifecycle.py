"""Configuration and lifecycle operations of the official awsiotsdk (V1 and V2 APIs) against the ggipc server:
the nucleus' answers (values, events, errors and messages), bad inputs included."""
import datetime
import queue

import pytest
from awsiot.greengrasscoreipc import client as v1client
from awsiot.greengrasscoreipc import connect
from awsiot.greengrasscoreipc import model
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from conftest import CONFIG_TOKEN, OPERATOR_TOKEN, PUB_TOKEN, STREAM_MANAGER_TOKEN

TIMEOUT = 10


def v1(server, token):
    return connect(ipc_socket=server["socket"], authtoken=token, timeout=TIMEOUT)


def v2(server, token):
    return GreengrassCoreIPCClientV2(client=v1(server, token))


def now(offset_seconds=0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)


def test_get_configuration_v1_and_v2(server):
    c = v1(server, PUB_TOKEN)
    op = c.new_get_configuration()
    op.activate(model.GetConfigurationRequest(component_name="interop.Config", key_path=["sensor", "topic"]))
    r = op.get_response().result(TIMEOUT)
    assert (r.component_name, r.value) == ("interop.Config", {"topic": "s/1"})
    c.close().result(TIMEOUT)

    c = v2(server, CONFIG_TOKEN)
    r = c.get_configuration(key_path=["sensor", "thresholds"])
    assert r.value == {"high": 30.5}
    assert c.get_configuration(key_path=["tags"]).value == {"tags": ["a", "b"]}
    whole = c.get_configuration().value
    assert whole["rate"] == 5 and whole["sensor"]["topic"] == "s/1"
    for kwargs in ({"key_path": ["missing"]}, {"component_name": "no.Such"}, {"key_path": ["rate", "deeper"]}):
        with pytest.raises(model.ResourceNotFoundError) as e:
            c.get_configuration(**kwargs)
        assert e.value.message == "Key not found"
    c.close()


def test_update_configuration_events_and_bad_inputs(server):
    c = v2(server, CONFIG_TOKEN)
    events = queue.Queue()
    _, op = c.subscribe_to_configuration_update(key_path=["sensor"], on_stream_event=events.put)
    c.update_configuration(key_path=["sensor"], timestamp=now(), value_to_merge={"topic": "s/2", "unit": "C"})
    seen = set()
    for _ in range(2):
        ev = events.get(timeout=TIMEOUT).configuration_update_event
        assert ev.component_name == "interop.Config"
        seen.add(tuple(ev.key_path))
    assert seen == {("sensor", "topic"), ("sensor", "unit")}
    assert c.get_configuration(key_path=["sensor", "topic"]).value == {"topic": "s/2"}
    # Numbers come back as sent (the Java nucleus would answer 7.0; see README, "where we differ").
    c.update_configuration(key_path=[], timestamp=now(), value_to_merge={"count": 7})
    assert c.get_configuration(key_path=["count"]).value == {"count": 7}

    # An update older than the key's last change is refused.
    c.update_configuration(key_path=["sensor"], timestamp=now(3600), value_to_merge={"topic": "s/3"})
    with pytest.raises(model.FailedUpdateConditionCheckError) as e:
        c.update_configuration(key_path=["sensor"], timestamp=now(), value_to_merge={"topic": "s/4"})
    assert e.value.message == "Proposed timestamp is older than the config's latest modified timestamp"
    assert c.get_configuration(key_path=["sensor", "topic"]).value == {"topic": "s/3"}

    for kwargs, error, message in [
        ({"key_path": [], "value_to_merge": {"a": 1}}, model.InvalidArgumentsError, "Timestamp is required"),
        ({"key_path": [], "timestamp": now()}, model.InvalidArgumentsError, "ValueToMerge is required"),
        ({"key_path": [], "timestamp": now(), "value_to_merge": {"accessControl": {}}},
         model.InvalidArgumentsError, "Config update is not allowed for following fields [accessControl]"),
    ]:
        with pytest.raises(error) as e:
            c.update_configuration(**kwargs)
        assert e.value.message == message
    op.close()
    c.close()

    # A component without a configuration.
    c = v2(server, PUB_TOKEN)
    with pytest.raises(model.ResourceNotFoundError) as e:
        c.subscribe_to_configuration_update(key_path=["nope"], on_stream_event=print)
    assert e.value.message == "Key not found"
    c.close()


def test_update_state_and_deployment_operations_without_a_deployment(server):
    c = v2(server, CONFIG_TOKEN)
    assert isinstance(c.update_state(state=model.ReportedLifecycleState.RUNNING), model.UpdateStateResponse)
    with pytest.raises(model.InvalidArgumentsError) as e:
        c.update_state(state="SLEEPING")
    assert e.value.message == "Invalid ReportedLifecycleState value: SLEEPING"
    with pytest.raises(model.InvalidArgumentsError) as e:
        c.send_configuration_validity_report(configuration_validity_report=model.ConfigurationValidityReport(
            status=model.ConfigurationValidityStatus.ACCEPTED, deployment_id="d-1"))
    assert e.value.message == "Validation request either timed out or was never made"
    with pytest.raises(model.InvalidArgumentsError) as e:
        c.send_configuration_validity_report(configuration_validity_report=model.ConfigurationValidityReport(
            status=model.ConfigurationValidityStatus.ACCEPTED))
    assert e.value.message == "Cannot accept configuration validity report, the deployment ID provided was null"
    with pytest.raises(model.InvalidArgumentsError) as e:
        c.defer_component_update(deployment_id="d-1", recheck_after_ms=1000)
    assert e.value.message == "Component is not subscribed to component update events"
    _, op = c.subscribe_to_component_updates(on_stream_event=print)
    with pytest.raises(model.ServiceError) as e:
        c.defer_component_update(deployment_id="d-1", recheck_after_ms=1000)
    assert e.value.message == "Time limit to respond to PreComponentUpdateEvent exceeded"
    op.close()
    c.close()


def test_validate_authorization_token(server):
    sm = v2(server, STREAM_MANAGER_TOKEN)
    assert sm.validate_authorization_token(token=CONFIG_TOKEN).is_valid is True
    with pytest.raises(model.InvalidTokenError) as e:
        sm.validate_authorization_token(token="NOTATOKEN")
    assert e.value.message == "Authentication token not found"
    with pytest.raises(model.InvalidTokenError) as e:
        sm.validate_authorization_token()
    assert e.value.message == "Invalid authentication token"
    sm.close()
    c = v2(server, CONFIG_TOKEN)
    with pytest.raises(model.UnauthorizedError) as e:
        c.validate_authorization_token(token=STREAM_MANAGER_TOKEN)
    assert e.value.message == "interop.Config is not authorized to perform aws.greengrass#ValidateAuthorizationToken"
    c.close()


def test_cli_lifecycle_operations(server):
    c = v2(server, CONFIG_TOKEN)
    c.update_state(state=model.ReportedLifecycleState.RUNNING)
    c.close()
    op = v2(server, OPERATOR_TOKEN)
    d = op.get_component_details(component_name="interop.Config").component_details
    assert (d.component_name, d.version, d.state) == ("interop.Config", "2.1.0", model.LifecycleState.RUNNING)
    assert d.configuration["sensor"]["topic"] in ("s/1", "s/3")
    names = [c.component_name for c in op.list_components().components]
    assert "interop.Config" in names and "aws.greengrass.StreamManager" in names
    # Nobody runs components under the bare server (no launcher takes the request): the restart fails.
    r = op.restart_component(component_name="interop.Config")
    assert r.restart_status == model.RequestStatus.FAILED
    with pytest.raises(model.UnauthorizedError) as e:
        op.restart_component(component_name="aws.greengrass.StreamManager")
    assert e.value.message == ("Principal interop.Operator is not authorized to perform "
                               "aws.greengrass.Cli:aws.greengrass#RestartComponent on resource aws.greengrass.StreamManager")
    assert op.stop_component(component_name="interop.Config").stop_status == model.RequestStatus.SUCCEEDED
    with pytest.raises(model.InvalidArgumentsError) as e:
        op.restart_component(component_name="")
    assert e.value.message == "Component name cannot be empty"
    # Authorization comes before the lookup: an unknown component is refused as not granted.
    with pytest.raises(model.UnauthorizedError) as e:
        op.get_component_details(component_name="no.Such")
    assert e.value.message == ("Principal interop.Operator is not authorized to perform "
                               "aws.greengrass.Cli:aws.greengrass#GetComponentDetails on resource no.Such")
    op.close()

    c = v2(server, PUB_TOKEN)
    with pytest.raises(model.UnauthorizedError) as e:
        c.list_components()
    assert e.value.message == ("Principal interop.Publisher is not authorized to perform "
                               "aws.greengrass.Cli:aws.greengrass#ListComponents on resource *")
    c.close()


def test_pause_and_resume(server):
    c = v2(server, CONFIG_TOKEN)
    c.update_state(state=model.ReportedLifecycleState.RUNNING)
    c.close()
    op = v2(server, OPERATOR_TOKEN)
    with pytest.raises(model.InvalidArgumentsError) as e:
        op.pause_component(component_name="")
    assert e.value.message == "Component name is required."
    with pytest.raises(model.UnauthorizedError) as e:
        op.pause_component(component_name="interop.Publisher")
    assert e.value.message == ("Principal interop.Operator is not authorized to perform "
                               "aws.greengrass.ipc.lifecycle:aws.greengrass#PauseComponent on resource interop.Publisher")
    with pytest.raises(model.InvalidArgumentsError) as e:
        op.resume_component(component_name="interop.Config")
    assert e.value.message == "Component interop.Config is not paused"
    # The bare server runs no processes.
    with pytest.raises(model.ServiceError) as e:
        op.pause_component(component_name="interop.Config")
    assert e.value.message == "Failed to pause component interop.Config due to : it is not run by this nucleus"
    op.close()

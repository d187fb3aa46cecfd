"""A component that lives by its configuration and its deployments (ggipc, Python V2 client).

* reports RUNNING (UpdateState),
* reads its `threshold` (GetConfiguration of a key path),
* records when it started under `status/lastStart` (UpdateConfiguration, with a timestamp),
* prints every configuration change with its new value (SubscribeToConfigurationUpdate),
* defers a deployment while it is busy (while the file its `lockFile` setting names exists in its work
  directory) and lets it go ahead otherwise (SubscribeToComponentUpdates, DeferComponentUpdate).

Run it as a component: `ggipc run examples/recipes/com.example.ConfigLifecyclePython.yaml`, then
`ggipc config set com.example.ConfigLifecyclePython threshold 35` or
`ggipc deploy --simulate com.example.ConfigLifecyclePython`.
"""

import datetime
import json
import os
import queue
import sys

from ggipc.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from ggipc.greengrasscoreipc.model import (
    ComponentUpdatePolicyEvents,
    ConfigurationUpdateEvents,
    ReportedLifecycleState,
    ResourceNotFoundError,
)

DEFER_MS = 2000


def main():
    ipc_client = GreengrassCoreIPCClientV2()
    # The stream callbacks only hand their events over; this thread answers them.
    events = queue.Queue()

    ipc_client.update_state(state=ReportedLifecycleState.RUNNING)
    print("Reported state RUNNING", flush=True)

    threshold = ipc_client.get_configuration(key_path=["threshold"]).value["threshold"]
    print(f"threshold: {threshold}", flush=True)

    started = datetime.datetime.now(datetime.timezone.utc)
    ipc_client.update_configuration(key_path=["status"], timestamp=started,
                                    value_to_merge={"lastStart": started.isoformat()})
    print("Updated status/lastStart", flush=True)

    def on_stream_error(error):
        print(f"stream error: {error}", file=sys.stderr, flush=True)
        return False  # keep the stream open

    _, config_operation = ipc_client.subscribe_to_configuration_update(
        key_path=[], on_stream_event=events.put, on_stream_error=on_stream_error)
    _, update_operation = ipc_client.subscribe_to_component_updates(
        on_stream_event=events.put, on_stream_error=on_stream_error)
    print("Waiting for configuration changes and deployments", flush=True)

    try:
        while True:  # until the nucleus stops the component
            event = events.get()
            if isinstance(event, ConfigurationUpdateEvents):
                on_configuration_update(ipc_client, event)
            elif isinstance(event, ComponentUpdatePolicyEvents):
                on_component_update(ipc_client, event)
    finally:
        config_operation.close()
        update_operation.close()
        ipc_client.close()


def on_configuration_update(ipc_client, event):
    key_path = event.configuration_update_event.key_path
    try:
        value = ipc_client.get_configuration(key_path=key_path).value
        print(f"Configuration changed: {'/'.join(key_path)} = {json.dumps(value.get(key_path[-1], value))}",
              flush=True)
    except ResourceNotFoundError:
        print(f"Configuration changed: {'/'.join(key_path)} removed", flush=True)


def on_component_update(ipc_client, event):
    if event.pre_update_event is not None:
        deployment = event.pre_update_event.deployment_id
        lock_file = ipc_client.get_configuration(key_path=["lockFile"]).value["lockFile"]
        if os.path.exists(lock_file):
            ipc_client.defer_component_update(deployment_id=deployment, message="busy", recheck_after_ms=DEFER_MS)
            print(f"Deferred deployment {deployment} by {DEFER_MS} ms", flush=True)
        else:
            ipc_client.defer_component_update(deployment_id=deployment, recheck_after_ms=0)
            print(f"Acknowledged deployment {deployment}", flush=True)
    elif event.post_update_event is not None:
        print(f"Deployment {event.post_update_event.deployment_id} applied", flush=True)


if __name__ == "__main__":
    main()

package com.example;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.model.ComponentUpdatePolicyEvents;
import io.ggipc.greengrass.model.ConfigurationUpdateEvents;
import io.ggipc.greengrass.model.DeferComponentUpdateRequest;
import io.ggipc.greengrass.model.GetConfigurationRequest;
import io.ggipc.greengrass.model.ReportedLifecycleState;
import io.ggipc.greengrass.model.ResourceNotFoundError;
import io.ggipc.greengrass.model.SubscribeToComponentUpdatesRequest;
import io.ggipc.greengrass.model.SubscribeToConfigurationUpdateRequest;
import io.ggipc.greengrass.model.UpdateConfigurationRequest;
import io.ggipc.greengrass.model.UpdateStateRequest;

import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A component that lives by its configuration and its deployments (ggipc, Java V2 client):
 * <ul>
 *   <li>reports RUNNING (UpdateState),</li>
 *   <li>reads its {@code threshold} (GetConfiguration of a key path),</li>
 *   <li>records when it started under {@code status/lastStart} (UpdateConfiguration, with a timestamp),</li>
 *   <li>prints every configuration change with its new value (SubscribeToConfigurationUpdate),</li>
 *   <li>defers a deployment while it is busy (while the file its {@code lockFile} setting names exists in its
 *       work directory) and lets it go ahead otherwise (SubscribeToComponentUpdates, DeferComponentUpdate).</li>
 * </ul>
 * Run it as a component with {@code examples/java/recipes/com.example.ConfigLifecycleJava.yaml}.
 */
public class ConfigLifecycle {
    static final long DEFER_MS = 2000;

    public static void main(String[] args) throws Exception {
        // The stream callbacks only hand their events over; the main thread answers them.
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        try (GreengrassCoreIPCClientV2 ipcClient = GreengrassCoreIPCClientV2.builder().build()) {
            ipcClient.updateState(new UpdateStateRequest().withState(ReportedLifecycleState.RUNNING));
            System.out.println("Reported state RUNNING");

            Object threshold = value(ipcClient, List.of("threshold"));
            System.out.println("threshold: " + number(threshold));

            Instant started = Instant.now();
            ipcClient.updateConfiguration(new UpdateConfigurationRequest().withKeyPath(List.of("status"))
                    .withTimestamp(started)
                    .withValueToMerge(Collections.singletonMap("lastStart", started.toString())));
            System.out.println("Updated status/lastStart");

            ipcClient.subscribeToConfigurationUpdate(
                    new SubscribeToConfigurationUpdateRequest().withKeyPath(Collections.emptyList()),
                    events::add, Optional.of(ConfigLifecycle::onStreamError), Optional.empty());
            ipcClient.subscribeToComponentUpdates(new SubscribeToComponentUpdatesRequest(), events::add,
                    Optional.of(ConfigLifecycle::onStreamError), Optional.empty());
            System.out.println("Waiting for configuration changes and deployments");

            while (true) { // until the nucleus stops the component
                Object event = events.take();
                if (event instanceof ConfigurationUpdateEvents) {
                    List<String> keyPath = ((ConfigurationUpdateEvents) event).getConfigurationUpdateEvent()
                            .getKeyPath();
                    try {
                        System.out.println("Configuration changed: " + String.join("/", keyPath) + " = "
                                + json(value(ipcClient, keyPath)));
                    } catch (ResourceNotFoundError e) {
                        System.out.println("Configuration changed: " + String.join("/", keyPath) + " removed");
                    }
                } else if (event instanceof ComponentUpdatePolicyEvents) {
                    onComponentUpdate(ipcClient, (ComponentUpdatePolicyEvents) event);
                }
            }
        }
    }

    static Boolean onStreamError(Throwable error) {
        System.err.println("stream error: " + error);
        return false; // keep the stream open
    }

    static void onComponentUpdate(GreengrassCoreIPCClientV2 ipcClient, ComponentUpdatePolicyEvents event)
            throws Exception {
        if (event.getPreUpdateEvent() != null) {
            String deployment = event.getPreUpdateEvent().getDeploymentId();
            String lockFile = (String) value(ipcClient, List.of("lockFile"));
            boolean busy = Files.exists(Paths.get(lockFile));
            DeferComponentUpdateRequest request = new DeferComponentUpdateRequest().withDeploymentId(deployment)
                    .withRecheckAfterMs(busy ? DEFER_MS : 0L);
            if (busy) {
                request.setMessage("busy");
            }
            ipcClient.deferComponentUpdate(request);
            System.out.println(busy ? "Deferred deployment " + deployment + " by " + DEFER_MS + " ms"
                    : "Acknowledged deployment " + deployment);
        } else if (event.getPostUpdateEvent() != null) {
            System.out.println("Deployment " + event.getPostUpdateEvent().getDeploymentId() + " applied");
        }
    }

    /** The value at a key path: the leaf's value (the nucleus answers {@code {key: value}}), or the object. */
    static Object value(GreengrassCoreIPCClientV2 ipcClient, List<String> keyPath) throws Exception {
        Map<String, Object> v = ipcClient.getConfiguration(new GetConfigurationRequest().withKeyPath(keyPath))
                .getValue();
        String last = keyPath.isEmpty() ? null : keyPath.get(keyPath.size() - 1);
        if (last != null && v.size() == 1 && v.containsKey(last)) {
            return v.get(last);
        }
        return v;
    }

    /** A number as written in the configuration (JSON numbers may come back as doubles). */
    static String number(Object n) {
        if (n instanceof Number && ((Number) n).doubleValue() == Math.rint(((Number) n).doubleValue())) {
            return Long.toString(((Number) n).longValue());
        }
        return String.valueOf(n);
    }

    static String json(Object v) {
        if (v instanceof String) {
            return "\"" + ((String) v).replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        }
        if (v instanceof Number) {
            return number(v);
        }
        return String.valueOf(v);
    }
}

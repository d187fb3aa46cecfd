package io.ggipc.conformance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.crt.eventstream.MessageFlags;
import software.amazon.awssdk.crt.eventstream.MessageType;
import software.amazon.awssdk.crt.eventstream.ServerConnection;
import software.amazon.awssdk.crt.eventstream.ServerConnectionContinuation;

/**
 * The configuration and lifecycle operations of the harness, for the one component of the conformance recipe
 * (its {@code DefaultConfiguration}: {@code settings} and {@code scratch}), answering as the Java nucleus'
 * ConfigStore and Lifecycle agents do.
 *
 * <p>Configuration: every key path keeps the time of its last change; an update merges {@code valueToMerge} at
 * {@code keyPath} (the root when absent) with the request's timestamp, skipping keys changed later, and is then
 * refused with FailedUpdateConditionCheckError if the key path had a later change; a key path that does not exist
 * yet is created with the current time. Each changed leaf or new object is one SubscribeToConfigurationUpdate
 * event for the subscriptions at or above it.
 *
 * <p>Deployments (started from standard input): {@code validate} sends the proposed configuration (the current
 * one with {@code scratch/validated = "yes"}) to the validators and waits 20 s for their report;
 * {@code deploy} sends pre-update events, honours deferrals (asking again after {@code recheckAfterMs}, 20 s in
 * all), then sends the post-update event.
 */
final class ConfigStore {
    static final String COMPONENT = OfficialServer.COMPONENT;
    static final String GET = "aws.greengrass#GetConfiguration";
    static final String UPDATE = "aws.greengrass#UpdateConfiguration";
    static final String WATCH = "aws.greengrass#SubscribeToConfigurationUpdate";
    static final String VALIDATE = "aws.greengrass#SubscribeToValidateConfigurationUpdates";
    static final String REPORT = "aws.greengrass#SendConfigurationValidityReport";
    static final String UPDATE_STATE = "aws.greengrass#UpdateState";
    static final String COMPONENT_UPDATES = "aws.greengrass#SubscribeToComponentUpdates";
    static final String DEFER = "aws.greengrass#DeferComponentUpdate";
    static final long VALIDATION_TIMEOUT_MS = 20_000;
    static final long ANSWER_TIMEOUT_MS = 10_000;
    static final long DEFER_LIMIT_MS = 20_000;

    /** An open stream of one of the subscription operations. */
    static final class Stream {
        final ServerConnection connection;
        final ServerConnectionContinuation continuation;
        final List<String> path;

        Stream(ServerConnection connection, ServerConnectionContinuation continuation, List<String> path) {
            this.connection = connection;
            this.continuation = continuation;
            this.path = path;
        }
    }

    final JsonObject config = new JsonObject();
    /** Key path (joined with '/') of every node changed since the start, and when. */
    final Map<String, Long> modtimes = new HashMap<>();
    final List<Stream> watches = new CopyOnWriteArrayList<>();
    final List<Stream> validators = new CopyOnWriteArrayList<>();
    final List<Stream> updates = new CopyOnWriteArrayList<>();
    final Map<String, CompletableFuture<JsonObject>> reports = new ConcurrentHashMap<>();
    final Map<String, CompletableFuture<JsonObject>> deferrals = new ConcurrentHashMap<>();
    final AtomicInteger deployments = new AtomicInteger();

    ConfigStore() {
        JsonObject settings = new JsonObject();
        settings.addProperty("topic", "conf/settings");
        settings.addProperty("rate", 5);
        JsonObject nested = new JsonObject();
        nested.addProperty("flag", true);
        settings.add("nested", nested);
        config.add("settings", settings);
        JsonObject scratch = new JsonObject();
        scratch.addProperty("seed", 0);
        config.add("scratch", scratch);
        modtimes.put("", System.currentTimeMillis());
    }

    static boolean serves(String operation) {
        return List.of(GET, UPDATE, WATCH, VALIDATE, REPORT, UPDATE_STATE, COMPONENT_UPDATES, DEFER)
                .contains(operation);
    }

    void handle(ServerConnection connection, ServerConnectionContinuation stream, String operation,
            JsonObject request) throws OfficialServer.ModeledError {
        switch (operation) {
            case GET:
                respond(stream, "GetConfigurationResponse", get(request), true);
                break;
            case UPDATE:
                update(request);
                respond(stream, "UpdateConfigurationResponse", new JsonObject(), true);
                break;
            case WATCH: {
                String component = string(request, "componentName");
                List<String> path = keyPath(request);
                synchronized (this) {
                    if ((component != null && !component.equals(COMPONENT)) || node(path) == null) {
                        throw notFound();
                    }
                    Stream s = new Stream(connection, stream, path);
                    respond(stream, "SubscribeToConfigurationUpdateResponse", new JsonObject(), false);
                    watches.add(s);
                }
                break;
            }
            case VALIDATE:
                // registered before the answer: a deployment is only started after it (by the runner)
                validators.add(new Stream(connection, stream, List.of()));
                respond(stream, "SubscribeToValidateConfigurationUpdatesResponse", new JsonObject(), false);
                break;
            case COMPONENT_UPDATES:
                updates.add(new Stream(connection, stream, List.of()));
                respond(stream, "SubscribeToComponentUpdatesResponse", new JsonObject(), false);
                break;
            case REPORT:
                report(request);
                respond(stream, "SendConfigurationValidityReportResponse", new JsonObject(), true);
                break;
            case UPDATE_STATE: {
                String state = string(request, "state");
                if (state == null) {
                    throw invalid("State is required");
                }
                if (!state.equals("RUNNING") && !state.equals("ERRORED")) {
                    throw invalid("Invalid ReportedLifecycleState value: " + state);
                }
                System.err.println("STATE " + state);
                respond(stream, "UpdateStateResponse", new JsonObject(), true);
                break;
            }
            case DEFER:
                defer(connection, request);
                respond(stream, "DeferComponentUpdateResponse", new JsonObject(), true);
                break;
            default:
                throw new OfficialServer.ModeledError("ServiceError", operation + " is not served");
        }
    }

    static OfficialServer.ModeledError invalid(String message) {
        return new OfficialServer.ModeledError("InvalidArgumentsError", message);
    }

    static OfficialServer.ModeledError notFound() {
        return new OfficialServer.ModeledError("ResourceNotFoundError", "Key not found");
    }

    static void respond(ServerConnectionContinuation stream, String shape, JsonObject body, boolean last) {
        stream.sendMessage(OfficialServer.shapeHeaders("aws.greengrass#" + shape),
                OfficialServer.GSON.toJson(body).getBytes(StandardCharsets.UTF_8), MessageType.ApplicationMessage,
                last ? MessageFlags.TerminateStream.getByteValue() : 0);
    }

    static void event(Stream s, String shape, JsonObject body) {
        s.continuation.sendMessage(OfficialServer.shapeHeaders("aws.greengrass#" + shape),
                OfficialServer.GSON.toJson(body).getBytes(StandardCharsets.UTF_8), MessageType.ApplicationMessage, 0);
    }

    static String string(JsonObject o, String key) {
        return OfficialServer.string(o, key);
    }

    static List<String> keyPath(JsonObject request) {
        List<String> path = new ArrayList<>();
        JsonElement p = request.get("keyPath");
        if (p != null && p.isJsonArray()) {
            for (JsonElement e : p.getAsJsonArray()) {
                path.add(e.getAsString());
            }
        }
        return path;
    }

    static String key(List<String> path) {
        return String.join("/", path);
    }

    JsonElement node(List<String> path) {
        JsonElement node = config;
        for (String k : path) {
            if (!node.isJsonObject() || !node.getAsJsonObject().has(k)) {
                return null;
            }
            node = node.getAsJsonObject().get(k);
        }
        return node;
    }

    /** The latest change at or below a key path. */
    long modtime(List<String> path) {
        String k = key(path);
        long latest = 0;
        for (Map.Entry<String, Long> e : modtimes.entrySet()) {
            String p = e.getKey();
            if (k.isEmpty() || p.equals(k) || p.startsWith(k + "/")) {
                latest = Math.max(latest, e.getValue());
            }
        }
        return latest;
    }

    void forget(List<String> path) {
        String k = key(path);
        modtimes.keySet().removeIf(p -> p.equals(k) || p.startsWith(k + "/"));
    }

    synchronized JsonObject get(JsonObject request) throws OfficialServer.ModeledError {
        String component = string(request, "componentName");
        if (component != null && !component.equals(COMPONENT)) {
            throw notFound();
        }
        List<String> path = keyPath(request);
        JsonElement node = node(path);
        if (node == null) {
            throw notFound();
        }
        JsonObject value;
        if (node.isJsonObject()) {
            value = node.getAsJsonObject().deepCopy();
        } else {
            value = new JsonObject();
            value.add(path.get(path.size() - 1), node.deepCopy());
        }
        JsonObject response = new JsonObject();
        response.addProperty("componentName", COMPONENT);
        response.add("value", value);
        return response;
    }

    void update(JsonObject request) throws OfficialServer.ModeledError {
        JsonElement ts = request.get("timestamp");
        if (ts == null || ts.isJsonNull()) {
            throw invalid("Timestamp is required");
        }
        JsonElement v = request.get("valueToMerge");
        if (v == null || v.isJsonNull()) {
            throw invalid("ValueToMerge is required");
        }
        if (!v.isJsonObject()) {
            throw invalid("ValueToMerge must be a JSON object");
        }
        JsonObject value = v.getAsJsonObject();
        List<String> path = keyPath(request);
        if ((path.isEmpty() && value.has("accessControl")) || (!path.isEmpty() && path.get(0).equals("accessControl"))) {
            throw invalid("Config update is not allowed for following fields [accessControl]");
        }
        long timestamp = (long) (ts.getAsDouble() * 1000);
        List<List<String>> changed = new ArrayList<>();
        boolean refused;
        synchronized (this) {
            JsonElement node = node(path);
            long updateTime = timestamp;
            if (node == null) {
                updateTime = System.currentTimeMillis();
                container(path, updateTime);
                merge(path, value, updateTime, changed);
            } else if (node.isJsonObject()) {
                merge(path, value, timestamp, changed);
            } else {
                JsonObject single = new JsonObject();
                single.add(path.get(path.size() - 1), value);
                merge(path.subList(0, path.size() - 1), single, timestamp, changed);
            }
            refused = updateTime < modtime(path);
        }
        notifyWatches(changed);
        if (refused) {
            throw new OfficialServer.ModeledError("FailedUpdateConditionCheckError",
                    "Proposed timestamp is older than the config's latest modified timestamp");
        }
    }

    /** The object at a key path, created (with the given time) where missing or not an object. */
    JsonObject container(List<String> path, long at) {
        JsonObject node = config;
        for (int i = 0; i < path.size(); i++) {
            String k = path.get(i);
            JsonElement child = node.get(k);
            if (child == null || !child.isJsonObject()) {
                child = new JsonObject();
                node.add(k, child);
                modtimes.put(key(path.subList(0, i + 1)), at);
            }
            node = child.getAsJsonObject();
        }
        return node;
    }

    void merge(List<String> base, JsonObject value, long at, List<List<String>> changed) {
        for (Map.Entry<String, JsonElement> e : value.entrySet()) {
            List<String> path = new ArrayList<>(base);
            path.add(e.getKey());
            JsonElement current = node(path);
            if (current != null && at < modtime(path)) {
                continue; // changed later than this update
            }
            JsonElement v = e.getValue();
            if (v.isJsonObject()) {
                if (current == null || !current.isJsonObject()) {
                    forget(path);
                    container(path, at);
                    modtimes.put(key(path), at);
                    changed.add(path);
                }
                merge(path, v.getAsJsonObject(), at, changed);
            } else {
                forget(path);
                modtimes.put(key(path), at);
                if (!v.equals(current)) {
                    container(base, at).add(e.getKey(), v.deepCopy());
                    changed.add(path);
                }
            }
        }
    }

    void notifyWatches(List<List<String>> changed) {
        for (Stream w : watches) {
            for (List<String> path : changed) {
                if (path.size() >= w.path.size() && path.subList(0, w.path.size()).equals(w.path)) {
                    JsonObject inner = new JsonObject();
                    inner.addProperty("componentName", COMPONENT);
                    JsonArray kp = new JsonArray();
                    path.forEach(kp::add);
                    inner.add("keyPath", kp);
                    JsonObject body = new JsonObject();
                    body.add("configurationUpdateEvent", inner);
                    event(w, "ConfigurationUpdateEvents", body);
                }
            }
        }
    }

    void report(JsonObject request) throws OfficialServer.ModeledError {
        JsonElement r = request.get("configurationValidityReport");
        if (r == null || !r.isJsonObject()) {
            throw invalid("Configuration validity report is required");
        }
        JsonObject report = r.getAsJsonObject();
        String deployment = string(report, "deploymentId");
        if (deployment == null) {
            throw invalid("Cannot accept configuration validity report, the deployment ID provided was null");
        }
        CompletableFuture<JsonObject> waiting = reports.remove(deployment);
        if (waiting == null) {
            throw invalid("Validation request either timed out or was never made");
        }
        waiting.complete(report);
    }

    void defer(ServerConnection connection, JsonObject request) throws OfficialServer.ModeledError {
        if (updates.isEmpty()) {
            throw invalid("Component is not subscribed to component update events");
        }
        String deployment = string(request, "deploymentId");
        if (deployment == null) {
            throw invalid("Cannot defer the update, the deployment ID provided was null");
        }
        CompletableFuture<JsonObject> waiting = deferrals.remove(deployment);
        if (waiting == null) {
            throw new OfficialServer.ModeledError("ServiceError",
                    "Time limit to respond to PreComponentUpdateEvent exceeded");
        }
        waiting.complete(request);
    }

    void closeStream(ServerConnectionContinuation continuation) {
        watches.removeIf(s -> s.continuation == continuation);
        validators.removeIf(s -> s.continuation == continuation);
        updates.removeIf(s -> s.continuation == continuation);
    }

    void closeConnection(ServerConnection connection) {
        watches.removeIf(s -> s.connection == connection);
        validators.removeIf(s -> s.connection == connection);
        updates.removeIf(s -> s.connection == connection);
    }

    /** A validation: the validators get the proposed configuration; their report decides. */
    void validateDeployment() {
        String id = "harness-" + deployments.incrementAndGet();
        JsonObject proposed;
        synchronized (this) {
            proposed = config.deepCopy();
        }
        proposed.getAsJsonObject("scratch").addProperty("validated", "yes");
        if (validators.isEmpty()) {
            System.err.println("DEPLOYMENT failed " + id + ": no validator is subscribed");
            return;
        }
        CompletableFuture<JsonObject> answer = new CompletableFuture<>();
        reports.put(id, answer);
        JsonObject inner = new JsonObject();
        inner.add("configuration", proposed);
        inner.addProperty("deploymentId", id);
        JsonObject body = new JsonObject();
        body.add("validateConfigurationUpdateEvent", inner);
        for (Stream s : validators) {
            event(s, "ValidateConfigurationUpdateEvents", body);
        }
        try {
            JsonObject report = answer.get(VALIDATION_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            if ("ACCEPTED".equals(string(report, "status"))) {
                synchronized (this) {
                    config.getAsJsonObject("scratch").addProperty("validated", "yes");
                }
                System.err.println("DEPLOYMENT succeeded " + id + ": " + COMPONENT + " accepted the configuration");
            } else {
                String message = string(report, "message");
                System.err.println("DEPLOYMENT failed " + id + ": Components reported that their to-be-deployed "
                        + "configuration is invalid { name = " + COMPONENT + ", message = "
                        + (message == null ? "" : message) + " }");
            }
        } catch (TimeoutException e) {
            System.err.println("DEPLOYMENT failed " + id + ": no validity report within " + VALIDATION_TIMEOUT_MS
                    + " ms");
        } catch (Exception e) {
            System.err.println("DEPLOYMENT failed " + id + ": " + e);
        } finally {
            reports.remove(id);
        }
    }

    /** A component update: pre-update events until nobody defers, then the post-update event. */
    void updateDeployment() {
        String id = "harness-" + deployments.incrementAndGet();
        List<String> log = new ArrayList<>();
        long start = System.currentTimeMillis();
        try {
            while (true) {
                JsonObject pre = new JsonObject();
                pre.addProperty("deploymentId", id);
                pre.addProperty("isGgcRestarting", false);
                JsonObject body = new JsonObject();
                body.add("preUpdateEvent", pre);
                CompletableFuture<JsonObject> answer = new CompletableFuture<>();
                deferrals.put(id, answer);
                for (Stream s : updates) {
                    event(s, "ComponentUpdatePolicyEvents", body);
                }
                long recheck = 0;
                try {
                    JsonObject defer = answer.get(ANSWER_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                    JsonElement r = defer.get("recheckAfterMs");
                    recheck = r == null || r.isJsonNull() ? 0 : r.getAsLong();
                    if (recheck > 0) {
                        String message = string(defer, "message");
                        log.add(COMPONENT + " deferred the update by " + recheck + " ms"
                                + (message == null ? "" : ": " + message));
                    }
                } catch (TimeoutException e) {
                    log.add("no answer to the pre-update event within " + ANSWER_TIMEOUT_MS + " ms");
                } finally {
                    deferrals.remove(id);
                }
                if (recheck <= 0) {
                    break;
                }
                if (System.currentTimeMillis() - start + recheck > DEFER_LIMIT_MS) {
                    System.err.println("DEPLOYMENT failed " + id + ": components kept deferring the update; "
                            + String.join(" / ", log));
                    return;
                }
                Thread.sleep(recheck);
            }
            JsonObject post = new JsonObject();
            post.addProperty("deploymentId", id);
            JsonObject body = new JsonObject();
            body.add("postUpdateEvent", post);
            for (Stream s : updates) {
                event(s, "ComponentUpdatePolicyEvents", body);
            }
            System.err.println("DEPLOYMENT succeeded " + id + ": " + String.join(" / ", log));
        } catch (Exception e) {
            System.err.println("DEPLOYMENT failed " + id + ": " + e);
        }
    }
}

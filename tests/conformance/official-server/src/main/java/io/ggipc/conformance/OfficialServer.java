package io.ggipc.conformance;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import software.amazon.awssdk.crt.eventstream.Header;
import software.amazon.awssdk.crt.eventstream.MessageFlags;
import software.amazon.awssdk.crt.eventstream.MessageType;
import software.amazon.awssdk.crt.eventstream.ServerConnection;
import software.amazon.awssdk.crt.eventstream.ServerConnectionContinuation;
import software.amazon.awssdk.crt.eventstream.ServerConnectionContinuationHandler;
import software.amazon.awssdk.crt.eventstream.ServerConnectionHandler;
import software.amazon.awssdk.crt.eventstream.ServerListener;
import software.amazon.awssdk.crt.eventstream.ServerListenerHandler;
import software.amazon.awssdk.crt.io.EventLoopGroup;
import software.amazon.awssdk.crt.io.ServerBootstrap;
import software.amazon.awssdk.crt.io.SocketOptions;

/**
 * A Greengrass IPC server built on the official event-stream RPC server classes of aws-crt, answering CONNECT,
 * PublishToIoTCore and SubscribeToIoTCore in the Java nucleus' format (same bodies, flags, error shapes, messages
 * and 128 KiB payload limit), with an in-process broker that delivers publishes to matching subscriptions; local
 * pub/sub (PublishToTopic, SubscribeToTopic: its own subscriptions, never crossing with IoT Core's) and
 * SubscribeToIoTCoreConnectionStatus (always connected) in the nucleus' format too. The configuration and
 * lifecycle operations (GetConfiguration, UpdateConfiguration, SubscribeToConfigurationUpdate,
 * SubscribeToValidateConfigurationUpdates, SendConfigurationValidityReport, UpdateState,
 * SubscribeToComponentUpdates, DeferComponentUpdate) are served by {@link ConfigStore} for the one component of
 * the conformance recipe, with the nucleus' merge, timestamps, events, errors and messages.
 *
 * <p>Authorization: every topic and filter under {@code conf/} is allowed, anything else is "Not Authorized"
 * (the policy the conformance recipe gives the ggipc nucleus). Control topics, answered first and then acted on:
 * a publish to {@code conf/ctl/ping} makes the server send a PING on that connection; a publish to
 * {@code conf/ctl/terminate} makes it terminate every open subscription of that connection with a bare TERMINATE.
 *
 * <p>Usage: {@code OfficialServer SOCKET TOKEN}; prints {@code READY} once listening and serves until standard
 * input closes. Every PING_RESPONSE or PING it receives is logged on standard error. A line {@code validate} or
 * {@code deploy} on standard input starts a deployment (see {@link ConfigStore#validateDeployment} and
 * {@link ConfigStore#updateDeployment}); its outcome is logged on standard error as one line starting with
 * {@code DEPLOYMENT}.
 */
public final class OfficialServer {
    static final String SERVICE = "aws.greengrass#GreengrassCoreIPC";
    static final String PUBLISH = "aws.greengrass#PublishToIoTCore";
    static final String SUBSCRIBE = "aws.greengrass#SubscribeToIoTCore";
    static final String PUBLISH_LOCAL = "aws.greengrass#PublishToTopic";
    static final String SUBSCRIBE_LOCAL = "aws.greengrass#SubscribeToTopic";
    static final String CONNECTION_STATUS = "aws.greengrass#SubscribeToIoTCoreConnectionStatus";
    /** The component the conformance recipe names (the principal of local pub/sub refusals). */
    static final String COMPONENT = "io.ggipc.conformance.Client";
    static final int MAX_PAYLOAD = 131072;
    static final Gson GSON = new Gson();

    final String token;
    final ConfigStore configStore = new ConfigStore();
    final List<Subscription> subscriptions = new CopyOnWriteArrayList<>();
    final List<Subscription> localSubscriptions = new CopyOnWriteArrayList<>();

    OfficialServer(String token) {
        this.token = token;
    }

    /** One open SubscribeToIoTCore stream. */
    static final class Subscription {
        final ServerConnection connection;
        final ServerConnectionContinuation stream;
        final String filter;
        boolean answered;
        boolean closed;

        Subscription(ServerConnection connection, ServerConnectionContinuation stream, String filter) {
            this.connection = connection;
            this.stream = stream;
            this.filter = filter;
        }
    }

    /** A modeled error whose body is what the nucleus sends. */
    static final class ModeledError extends Exception {
        final String code;

        ModeledError(String code, String message) {
            super(message);
            this.code = code;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: OfficialServer SOCKET TOKEN");
            System.exit(2);
        }
        Path socket = Path.of(args[0]);
        Files.deleteIfExists(socket);
        OfficialServer server = new OfficialServer(args[1]);
        try (EventLoopGroup elg = new EventLoopGroup(1);
                ServerBootstrap bootstrap = new ServerBootstrap(elg);
                SocketOptions options = new SocketOptions()) {
            options.domain = SocketOptions.SocketDomain.LOCAL;
            options.type = SocketOptions.SocketType.STREAM;
            ServerListener listener = new ServerListener(socket.toString(), 0, options, null, bootstrap,
                    server.listenerHandler());
            System.out.println("READY");
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                // serve until standard input closes; a command starts a deployment on its own thread
                String command = line.trim();
                if (command.equals("validate")) {
                    new Thread(server.configStore::validateDeployment, "validate").start();
                } else if (command.equals("deploy")) {
                    new Thread(server.configStore::updateDeployment, "deploy").start();
                } else if (!command.isEmpty()) {
                    System.err.println("unknown command " + command);
                }
            }
            listener.close();
            try {
                listener.getShutdownCompleteFuture().get(5, java.util.concurrent.TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                System.err.println("listener shutdown did not complete within 5 s");
            }
        }
        Files.deleteIfExists(socket);
        System.exit(0); // native event-loop threads must not keep the process alive
    }

    ServerListenerHandler listenerHandler() {
        return new ServerListenerHandler() {
            @Override
            protected ServerConnectionHandler onNewConnection(ServerConnection connection, int errorCode) {
                return new ConnectionHandler(connection);
            }

            @Override
            protected void onConnectionShutdown(ServerConnection connection, int errorCode) {
                for (Subscription s : subscriptions) {
                    if (s.connection == connection) {
                        closeSubscription(s);
                    }
                }
                for (Subscription s : localSubscriptions) {
                    if (s.connection == connection) {
                        closeSubscription(s);
                    }
                }
                configStore.closeConnection(connection);
            }
        };
    }

    final class ConnectionHandler extends ServerConnectionHandler {
        ConnectionHandler(ServerConnection connection) {
            super(connection);
        }

        @Override
        protected void onProtocolMessage(List<Header> headers, byte[] payload, MessageType type, int flags) {
            switch (type) {
                case Connect:
                    onConnect(headers, payload);
                    break;
                case Ping:
                    System.err.println("PING received: " + text(payload));
                    List<Header> echo = new ArrayList<>();
                    for (Header h : headers) {
                        if (!h.getName().startsWith(":")) {
                            echo.add(h);
                        }
                    }
                    connection.sendProtocolMessage(echo, payload, MessageType.PingResponse, 0);
                    break;
                case PingResponse:
                    System.err.println("PING_RESPONSE received: " + text(payload));
                    break;
                default:
                    System.err.println("connection-level message " + type + " ignored");
            }
        }

        void onConnect(List<Header> headers, byte[] payload) {
            boolean ok = false;
            String version = null;
            for (Header h : headers) {
                if (h.getName().equals(":version")) {
                    version = h.getValueAsString();
                }
            }
            if ("0.1.0".equals(version)) {
                try {
                    JsonElement token = JsonParser.parseString(text(payload)).getAsJsonObject().get("authToken");
                    ok = token != null && !token.isJsonNull() && token.getAsString().equals(OfficialServer.this.token);
                } catch (RuntimeException e) {
                    ok = false;
                }
            }
            int ackFlags = ok ? MessageFlags.ConnectionAccepted.getByteValue() : 0;
            ServerConnection conn = connection;
            if (ok) {
                conn.sendProtocolMessage(null, null, MessageType.ConnectAck, ackFlags);
            } else {
                // The nucleus closes a rejected connection once the ack is flushed.
                conn.sendProtocolMessage(null, null, MessageType.ConnectAck, ackFlags, code -> conn.closeConnection(0));
            }
        }

        @Override
        protected ServerConnectionContinuationHandler onIncomingStream(ServerConnectionContinuation stream,
                String operation) {
            return new StreamHandler(connection, stream, operation);
        }
    }

    final class StreamHandler extends ServerConnectionContinuationHandler {
        final ServerConnection connection;
        final String operation;
        boolean activated;
        Subscription subscription;

        StreamHandler(ServerConnection connection, ServerConnectionContinuation stream, String operation) {
            super(stream);
            this.connection = connection;
            this.operation = operation;
        }

        @Override
        protected void onContinuationMessage(List<Header> headers, byte[] payload, MessageType type, int flags) {
            if (activated) {
                return; // a client TERMINATE; onContinuationClosed follows
            }
            activated = true;
            if ((flags & MessageFlags.TerminateStream.getByteValue()) != 0) {
                return; // the nucleus drops an activation that terminates itself
            }
            JsonObject request;
            try {
                request = JsonParser.parseString(text(payload)).getAsJsonObject();
            } catch (RuntimeException e) {
                List<Header> h = new ArrayList<>();
                h.add(Header.createHeader(":content-type", "text/plain"));
                continuation.sendMessage(h, "InternalServerError".getBytes(StandardCharsets.UTF_8),
                        MessageType.ApplicationError, MessageFlags.TerminateStream.getByteValue());
                return;
            }
            try {
                if (PUBLISH.equals(operation)) {
                    publish(request);
                } else if (SUBSCRIBE.equals(operation)) {
                    subscribe(request);
                } else if (PUBLISH_LOCAL.equals(operation)) {
                    publishLocal(request);
                } else if (SUBSCRIBE_LOCAL.equals(operation)) {
                    subscribeLocal(request);
                } else if (CONNECTION_STATUS.equals(operation)) {
                    continuation.sendMessage(shapeHeaders("aws.greengrass#SubscribeToIoTCoreConnectionStatusResponse"),
                            "{}".getBytes(StandardCharsets.UTF_8), MessageType.ApplicationMessage, 0);
                    continuation.sendMessage(shapeHeaders("aws.greengrass#IoTCoreConnectionStatusEvent"),
                            "{\"connectionStatusEvent\":{\"status\":\"CONNECTED\"}}".getBytes(StandardCharsets.UTF_8),
                            MessageType.ApplicationMessage, 0);
                } else if (ConfigStore.serves(operation)) {
                    configStore.handle(connection, continuation, operation, request);
                } else {
                    List<Header> h = new ArrayList<>();
                    h.add(Header.createHeader(":content-type", "application/json"));
                    String body = "{\"error\": \"Unsupported Operation\", \"message\": \"" + operation
                            + " is an unsupported operation.\"}";
                    continuation.sendMessage(h, body.getBytes(StandardCharsets.UTF_8), MessageType.ApplicationError,
                            MessageFlags.TerminateStream.getByteValue());
                }
            } catch (ModeledError e) {
                JsonObject body = new JsonObject();
                body.addProperty("message", e.getMessage());
                body.addProperty("_service", SERVICE);
                body.addProperty("_message", e.getMessage());
                body.addProperty("_errorCode", e.code);
                continuation.sendMessage(shapeHeaders("aws.greengrass#" + e.code),
                        GSON.toJson(body).getBytes(StandardCharsets.UTF_8), MessageType.ApplicationError,
                        MessageFlags.TerminateStream.getByteValue());
            }
        }

        void publish(JsonObject request) throws ModeledError {
            String topic = string(request, "topicName");
            if (topic == null) {
                throw new ModeledError("InvalidArgumentsError", "Topic is required");
            }
            if (!authorized(topic)) {
                throw new ModeledError("UnauthorizedError", "Not Authorized");
            }
            String payload = string(request, "payload");
            if (payload == null) {
                throw new ModeledError("InvalidArgumentsError", "Payload is required");
            }
            checkQos(request);
            byte[] bytes = Base64.getDecoder().decode(payload);
            if (bytes.length > MAX_PAYLOAD) {
                throw new ModeledError("ServiceError", "Publish to topic " + topic + " failed: The publishing message size "
                        + bytes.length + " bytes exceeds the configured limit of " + MAX_PAYLOAD + " bytes");
            }
            if (topic.contains("#") || topic.contains("+")) {
                throw new ModeledError("ServiceError", "Publish to topic " + topic
                        + " failed: Publish topics must not contain wildcard characters of '#' or '+'");
            }
            continuation.sendMessage(shapeHeaders("aws.greengrass#PublishToIoTCoreResponse"),
                    "{}".getBytes(StandardCharsets.UTF_8), MessageType.ApplicationMessage,
                    MessageFlags.TerminateStream.getByteValue());
            deliver(topic, message(topic, request));
            if (topic.equals("conf/ctl/ping")) {
                List<Header> h = new ArrayList<>();
                h.add(Header.createHeader("x-server-ping", "1"));
                connection.sendProtocolMessage(h, "server-ping".getBytes(StandardCharsets.UTF_8), MessageType.Ping, 0);
            } else if (topic.equals("conf/ctl/terminate")) {
                for (Subscription s : subscriptions) {
                    if (s.connection == connection) {
                        synchronized (s) {
                            if (!s.closed) {
                                s.closed = true;
                                s.stream.sendMessage(null, null, MessageType.ApplicationMessage,
                                        MessageFlags.TerminateStream.getByteValue());
                            }
                        }
                        subscriptions.remove(s);
                    }
                }
            }
        }

        void subscribe(JsonObject request) throws ModeledError {
            String filter = string(request, "topicName");
            if (filter == null) {
                throw new ModeledError("InvalidArgumentsError", "Topic is required");
            }
            if (!authorized(filter)) {
                throw new ModeledError("UnauthorizedError", "Not Authorized");
            }
            checkQos(request);
            Subscription s = new Subscription(connection, continuation, filter);
            subscription = s;
            subscriptions.add(s);
            synchronized (s) {
                continuation.sendMessage(shapeHeaders("aws.greengrass#SubscribeToIoTCoreResponse"),
                        "{}".getBytes(StandardCharsets.UTF_8), MessageType.ApplicationMessage, 0);
                s.answered = true;
            }
        }

        /** The nucleus' local pub/sub authorization: the recipe allows conf/*. */
        void authorizeLocal(String topic) throws ModeledError {
            if (topic != null && topic.isEmpty()) {
                throw new ModeledError("UnauthorizedError", "Resource cannot be empty");
            }
            if (topic == null || !authorized(topic)) {
                throw new ModeledError("UnauthorizedError", "Principal " + COMPONENT + " is not authorized to perform "
                        + "aws.greengrass.ipc.pubsub:" + operation + " on resource " + topic);
            }
        }

        void publishLocal(JsonObject request) throws ModeledError {
            String topic = string(request, "topic");
            authorizeLocal(topic);
            JsonElement pm = request.get("publishMessage");
            if (pm == null || pm.isJsonNull()) {
                throw new ModeledError("InvalidArgumentsError", "Publish message is required");
            }
            JsonObject message = pm.getAsJsonObject();
            JsonElement json = message.get("jsonMessage");
            JsonElement binary = message.get("binaryMessage");
            boolean hasJson = json != null && !json.isJsonNull();
            boolean hasBinary = binary != null && !binary.isJsonNull();
            if (hasJson == hasBinary) {
                throw new ModeledError("InvalidArgumentsError",
                        "Publish message must have exactly one of jsonMessage and binaryMessage");
            }
            if (topic.contains("+") || topic.contains("#") || topic.contains("*")) {
                throw new ModeledError("InvalidArgumentsError", "Publish topic must not contain a wildcard.");
            }
            JsonObject context = new JsonObject();
            context.addProperty("topic", topic);
            JsonObject inner = new JsonObject();
            JsonElement value = (hasJson ? json : binary).getAsJsonObject().get("message");
            if (value != null && !value.isJsonNull()) {
                inner.add("message", value);
            }
            inner.add("context", context);
            JsonObject event = new JsonObject();
            event.add(hasJson ? "jsonMessage" : "binaryMessage", inner);
            continuation.sendMessage(shapeHeaders("aws.greengrass#PublishToTopicResponse"),
                    "{}".getBytes(StandardCharsets.UTF_8), MessageType.ApplicationMessage,
                    MessageFlags.TerminateStream.getByteValue());
            byte[] bytes = GSON.toJson(event).getBytes(StandardCharsets.UTF_8);
            for (Subscription s : localSubscriptions) {
                if (!matches(s.filter, topic)) {
                    continue;
                }
                synchronized (s) {
                    if (s.answered && !s.closed) {
                        s.stream.sendMessage(shapeHeaders("aws.greengrass#SubscriptionResponseMessage"), bytes,
                                MessageType.ApplicationMessage, 0);
                    }
                }
            }
        }

        void subscribeLocal(JsonObject request) throws ModeledError {
            String filter = string(request, "topic");
            authorizeLocal(filter);
            Subscription s = new Subscription(connection, continuation, filter);
            subscription = s;
            localSubscriptions.add(s);
            synchronized (s) {
                continuation.sendMessage(shapeHeaders("aws.greengrass#SubscribeToTopicResponse"),
                        "{}".getBytes(StandardCharsets.UTF_8), MessageType.ApplicationMessage, 0);
                s.answered = true;
            }
        }

        @Override
        protected void onContinuationClosed() {
            if (subscription != null) {
                closeSubscription(subscription);
            }
            configStore.closeStream(continuation);
        }
    }

    void closeSubscription(Subscription s) {
        synchronized (s) {
            s.closed = true;
        }
        subscriptions.remove(s);
        localSubscriptions.remove(s);
    }

    /** The nucleus' IoTCoreMessage for a publish: MQTT 5 fields only when present, contentType dropped. */
    static byte[] message(String topic, JsonObject request) {
        JsonObject m = new JsonObject();
        m.addProperty("topicName", topic);
        m.add("payload", request.get("payload"));
        JsonElement retain = request.get("retain");
        m.addProperty("retain", retain != null && !retain.isJsonNull() && retain.getAsBoolean());
        for (String k : new String[] {"userProperties", "messageExpiryIntervalSeconds", "correlationData",
                "responseTopic"}) {
            JsonElement v = request.get(k);
            if (v != null && !v.isJsonNull()) {
                m.add(k, v);
            }
        }
        String format = string(request, "payloadFormat");
        m.addProperty("payloadFormat", "1".equals(format) ? "1" : "0");
        JsonObject event = new JsonObject();
        event.add("message", m);
        return GSON.toJson(event).getBytes(StandardCharsets.UTF_8);
    }

    void deliver(String topic, byte[] event) {
        for (Subscription s : subscriptions) {
            if (!matches(s.filter, topic)) {
                continue;
            }
            synchronized (s) {
                if (s.answered && !s.closed) {
                    s.stream.sendMessage(shapeHeaders("aws.greengrass#IoTCoreMessage"), event,
                            MessageType.ApplicationMessage, 0);
                }
            }
        }
    }

    static boolean authorized(String topicOrFilter) {
        return topicOrFilter.startsWith("conf/");
    }

    static void checkQos(JsonObject request) throws ModeledError {
        String qos = string(request, "qos");
        if (qos == null) {
            throw new ModeledError("InvalidArgumentsError", "QoS is required");
        }
        if (!qos.equals("0") && !qos.equals("1")) {
            throw new ModeledError("InvalidArgumentsError", "Invalid QoS value: " + qos);
        }
    }

    /** MQTT filter matching with {@code +} and {@code #}. */
    static boolean matches(String filter, String topic) {
        String[] f = filter.split("/", -1);
        String[] t = topic.split("/", -1);
        for (int i = 0; i < f.length; i++) {
            if (f[i].equals("#")) {
                return true;
            }
            if (i >= t.length) {
                return false;
            }
            if (!f[i].equals("+") && !f[i].equals(t[i])) {
                return false;
            }
        }
        return f.length == t.length;
    }

    static List<Header> shapeHeaders(String shape) {
        List<Header> h = new ArrayList<>();
        h.add(Header.createHeader(":content-type", "application/json"));
        h.add(Header.createHeader("service-model-type", shape));
        return h;
    }

    static String string(JsonObject o, String key) {
        JsonElement v = o.get(key);
        return v == null || v.isJsonNull() ? null : v.getAsString();
    }

    static String text(byte[] payload) {
        return payload == null ? "" : new String(payload, StandardCharsets.UTF_8);
    }
}

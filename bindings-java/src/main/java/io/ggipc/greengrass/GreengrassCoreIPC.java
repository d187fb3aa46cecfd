package io.ggipc.greengrass;

import io.ggipc.eventstreamrpc.StreamResponseHandler;
import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import java.util.Optional;

/** The Greengrass Core IPC operations ggipc implements (the MQTT proxy service). */
public interface GreengrassCoreIPC {
    /** Publishes an MQTT message to IoT Core. No stream events: the handler, if any, only sees the close. */
    PublishToIoTCoreResponseHandler publishToIoTCore(PublishToIoTCoreRequest request,
            Optional<StreamResponseHandler<EventStreamJsonMessage>> streamResponseHandler);

    /** Subscribes to an MQTT topic filter; messages go to the handler. */
    SubscribeToIoTCoreResponseHandler subscribeToIoTCore(SubscribeToIoTCoreRequest request,
            Optional<StreamResponseHandler<IoTCoreMessage>> streamResponseHandler);
}

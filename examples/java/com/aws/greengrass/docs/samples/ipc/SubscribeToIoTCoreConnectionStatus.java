package com.aws.greengrass.docs.samples.ipc;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.SubscribeToIoTCoreConnectionStatusResponseHandler;
import io.ggipc.greengrass.model.IoTCoreConnectionStatusEvent;
import io.ggipc.greengrass.model.SubscribeToIoTCoreConnectionStatusRequest;

import java.util.Optional;

/**
 * Follows the nucleus' connection to AWS IoT Core (SubscribeToIoTCoreConnectionStatus): prints the current
 * status, then each change, until stopped.
 */
public class SubscribeToIoTCoreConnectionStatus {

    public static void main(String[] args) {
        try (GreengrassCoreIPCClientV2 ipcClient = GreengrassCoreIPCClientV2.builder().build()) {
            GreengrassCoreIPCClientV2.StreamingResponse<?, SubscribeToIoTCoreConnectionStatusResponseHandler> response =
                    ipcClient.subscribeToIoTCoreConnectionStatus(new SubscribeToIoTCoreConnectionStatusRequest(),
                            SubscribeToIoTCoreConnectionStatus::onStreamEvent,
                            Optional.of(SubscribeToIoTCoreConnectionStatus::onStreamError),
                            Optional.of(SubscribeToIoTCoreConnectionStatus::onStreamClosed));
            System.out.println("Successfully subscribed to the IoT Core connection status");

            // Keep the main thread alive, or the process will exit.
            try {
                while (true) {
                    Thread.sleep(10000);
                }
            } catch (InterruptedException e) {
                System.out.println("Subscribe interrupted.");
            }
            response.getHandler().closeStream();
        } catch (Exception e) {
            System.err.println("Exception occurred when using IPC.");
            e.printStackTrace();
            System.exit(1);
        }
    }

    public static void onStreamEvent(IoTCoreConnectionStatusEvent event) {
        String status = event.getConnectionStatusEvent() == null ? null : event.getConnectionStatusEvent().getStatusAsString();
        System.out.println("IoT Core connection status: " + status);
    }

    public static boolean onStreamError(Throwable error) {
        System.err.println("Received a stream error.");
        error.printStackTrace();
        return false; // Return true to close the stream, false to keep it open.
    }

    public static void onStreamClosed() {
        System.out.println("Connection status stream closed.");
    }
}

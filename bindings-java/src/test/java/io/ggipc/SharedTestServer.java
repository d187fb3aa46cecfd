package io.ggipc;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Base of the test classes whose tests share one {@link TestServer}: started before the first test of the class,
 * closed after the last. (JUnit runs the classes one after another, so the one static field is never shared by
 * two at once.)
 */
public abstract class SharedTestServer {
    protected static TestServer server;

    @BeforeAll
    static void startSharedServer() throws Exception {
        server = TestServer.start();
    }

    @AfterAll
    static void closeSharedServer() throws Exception {
        server.close();
    }

    /** A V2 client of the shared server with its full-rights token. */
    protected static GreengrassCoreIPCClientV2 v2() throws IOException {
        return GreengrassCoreIPCClientV2.builder().withSocketPath(server.socket).withAuthToken(server.fullToken)
                .build();
    }
}

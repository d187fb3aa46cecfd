// SPDX-License-Identifier: Apache-2.0
#include <ggipc/greengrass.hpp>

int main() {
    ggipc::crt::ApiHandle api(ggipc::crt::g_allocator);
    ggipc::crt::Io::EventLoopGroup elg(1);
    ggipc::crt::Io::DefaultHostResolver resolver(elg, 64, 30);
    ggipc::crt::Io::ClientBootstrap bootstrap(elg, resolver);
    ggipc::greengrass::GreengrassCoreIpcClient client(bootstrap);
    auto result = client.NewPublishToIoTCore().GetResult().get();
    std::cout << "not activated: " << result.GetRpcError() << std::endl;
    return result ? 1 : 0;
}

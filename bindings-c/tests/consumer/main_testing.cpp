// SPDX-License-Identifier: Apache-2.0
// Consumes the installed test nucleus: starts one, checks it answers, stops it.
#include <ggipc/testing.hpp>

#include <iostream>

int main() {
    try {
        ggipc::testing::LocalNucleus nucleus("com.example.Consumer");
        std::cout << "test nucleus on " << nucleus.socketPath() << std::endl;
        try {
            nucleus.waitForPublish("t", 1, std::chrono::milliseconds(10));
            return 1;  // nothing publishes: must time out
        } catch (const ggipc::testing::Error &e) {
            return e.kind() == GGIPC_ERROR_KIND_TIMEOUT ? 0 : 1;
        }
    } catch (const std::exception &e) {
        std::cerr << e.what() << std::endl;
        return 1;
    }
}

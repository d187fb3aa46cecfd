// SPDX-License-Identifier: Apache-2.0
// The C header and the C++ headers compile as C++17 with -Wall -Wextra -Wpedantic -Werror
// and may be included twice.
#include <ggipc.h>
#include <ggipc.h>
#include <ggipc/greengrass.hpp>
#include <ggipc/greengrass.hpp>

int main() {
    ggipc_error *e = ggipc_client_publish(nullptr, nullptr, 0);
    const bool ok = e != nullptr && ggipc_error_get_kind(e) == GGIPC_ERROR_KIND_INVALID_ARGUMENT;
    ggipc_error_free(e);
    ggipc::greengrass::PublishToIoTCoreRequest request;
    request.SetQos(ggipc::greengrass::QOS_AT_LEAST_ONCE);
    return ok && request.GetQos().has_value() ? 0 : 1;
}

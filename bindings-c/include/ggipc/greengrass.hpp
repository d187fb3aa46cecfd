// SPDX-License-Identifier: Apache-2.0
/**
 * @file ggipc/greengrass.hpp
 * @brief Umbrella header of the ggipc C++ API: `ggipc::crt` and `ggipc::greengrass`,
 *        mirroring `Aws::Crt` and `Aws::Greengrass` for Greengrass IPC MQTT proxy code.
 *
 * Porting a program written for the AWS IoT Device SDK for C++ v2: replace
 * `#include <aws/crt/Api.h>` and `#include <aws/greengrass/GreengrassCoreIpcClient.h>`
 * with `#include <ggipc/greengrass.hpp>`, `Aws::Crt` with `ggipc::crt` and
 * `Aws::Greengrass` with `ggipc::greengrass`. Header-only, C++17, over the C API in
 * ggipc.h; link with libggipc (CMake target `ggipc::ggipc-cpp`).
 *
 * Like the SDK's headers, this one makes the standard facilities those programs use
 * available (`<chrono>`, `<thread>`, `<future>`, `<cstdlib>`, `<iostream>`, `<string>`).
 */
#ifndef GGIPC_GREENGRASS_HPP
#define GGIPC_GREENGRASS_HPP

#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <string>
#include <thread>

#include "../ggipc.h"
#include "client.hpp"
#include "crt.hpp"
#include "eventstreamrpc.hpp"
#include "model.hpp"

#endif // GGIPC_GREENGRASS_HPP

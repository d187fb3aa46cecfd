// SPDX-License-Identifier: Apache-2.0
/**
 * @file ggipc/model.hpp
 * @brief `ggipc::greengrass` model classes, mirroring `Aws::Greengrass`: every enum, shape and modeled
 *        error of the model, generated from it into `model_generated.hpp` (included below).
 */
#ifndef GGIPC_MODEL_HPP
#define GGIPC_MODEL_HPP

#include "../ggipc.h"
#include "crt.hpp"
#include "eventstreamrpc.hpp"

#include "model_generated.hpp"

#endif // GGIPC_MODEL_HPP

/* SPDX-License-Identifier: Apache-2.0 */
/* The header compiles as C11 with -Wall -Wextra -Wpedantic -Werror and may be included twice. */
#include <ggipc.h>
#include <ggipc.h>

int main(void) {
    ggipc_error *e = ggipc_client_publish(NULL, NULL, 0);
    int ok = e != NULL && ggipc_error_get_kind(e) == GGIPC_ERROR_KIND_INVALID_ARGUMENT;
    ggipc_error_free(e);
    return ok ? 0 : 1;
}

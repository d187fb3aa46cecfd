/* SPDX-License-Identifier: Apache-2.0 */
#include <ggipc.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    printf("ggipc %s\n", ggipc_version());
    return strcmp(ggipc_version(), GGIPC_VERSION) == 0 ? 0 : 1;
}

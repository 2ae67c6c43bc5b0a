/* Compiled alone by CTest as C99 and as C++20 with -Wall -Wextra -Werror -pedantic (and
 * more): the public C headers must need nothing but themselves and the Vulkan headers. */
#include <baton/baton.h>
#include <baton/baton_loader.h>

#include <string.h>

/* Use a few declarations so that an unusable one fails here, not in a user's build. */
int baton_header_check(void);
int baton_header_check(void) {
    batonProcTable table;
    batonExternalSemaphoreHandleDesc desc = {batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, {-1}, 0, {0}};
    batonContextAttachInfo attach;
    memset(&table, 0, sizeof table);
    memset(&attach, 0, sizeof attach);
    table.structSize = (uint32_t)sizeof table;
    attach.apiVersion = VK_API_VERSION_1_3;
    return (int)table.structSize + (int)desc.type + (int)attach.apiVersion + BATON_VERSION;
}

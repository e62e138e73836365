/*
 * bootmod.c — the boot module split into config and archive, for both
 * platforms (platform.h): each gives its raw module with
 * platform_boot_module(); platform_config and platform_boot_archive
 * split it on first use (on metal RAM is all mapped by then; kmain only
 * reserved the module's range). Not in the pure core: unit tests that
 * provide their own platform_config link without it.
 */
#include "core/core.h"
#include "core/platform.h"
#include "core/tar.h"

static const char *boot_config, *boot_archive;
static size_t boot_config_len, boot_archive_len;
static int boot_split;

static void boot_module_split(void)
{
	char err[300];
	if (boot_split)
		return;
	boot_split = 1;
	size_t len;
	const char *buf = platform_boot_module(&len);
	int rc = tar_boot_config(buf, len, &boot_config, &boot_config_len, err, sizeof err);
	if (rc < 0) {
		klog("%s", err);
		klog("pollux: boot stopped: the boot module is a tar archive without a usable pollux.json");
		platform_exit(EXIT_BAD_CONFIG);
	}
	if (rc) {
		boot_archive = buf;
		boot_archive_len = len;
		klog("boot: module is a tar archive (%zu bytes), config pollux.json (%zu bytes)", boot_archive_len,
		     boot_config_len);
	}
}

const char *platform_config(size_t *len)
{
	boot_module_split();
	*len = boot_config_len;
	return boot_config;
}

const void *platform_boot_archive(size_t *len)
{
	boot_module_split();
	*len = boot_archive_len;
	return boot_archive;
}

/* SPDX-License-Identifier: MIT */
/*
 * libiopf's copy of the fault queue part of <linux/iommufd.h>, with the
 * layout of include/uapi/linux/iommufd.h in Linux 6.12, for systems whose
 * kernel headers predate the fault queue (Linux < 6.11; Debian 12 has 6.1).
 *
 * The build puts lib/uapi first on the include path only when the system
 * header lacks IOMMU_FAULT_QUEUE_ALLOC; `make install` installs this file
 * as include/iopf/uapi/linux/iommufd.h and iopf.pc adds that directory to
 * --cflags in the same case.  lib/iopf.h asserts the sizes and offsets
 * libiopf relies on, whichever header was used.
 */
#ifndef _UAPI_IOMMUFD_H
#define _UAPI_IOMMUFD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define IOMMUFD_TYPE (';')
#define IOMMU_DESTROY		_IO(IOMMUFD_TYPE, 0x80)
#define IOMMU_IOAS_ALLOC	_IO(IOMMUFD_TYPE, 0x81)
#define IOMMU_HWPT_ALLOC	_IO(IOMMUFD_TYPE, 0x89)
#define IOMMU_FAULT_QUEUE_ALLOC	_IO(IOMMUFD_TYPE, 0x8e)

struct iommu_destroy {
	__u32 size;
	__u32 id;
};

struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};

enum iommufd_hwpt_alloc_flags {
	IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0,
	IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1,
	IOMMU_HWPT_FAULT_ID_VALID = 1 << 2,
};

enum iommu_hwpt_data_type {
	IOMMU_HWPT_DATA_NONE = 0,
	IOMMU_HWPT_DATA_VTD_S1 = 1,
};

struct iommu_hwpt_alloc {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
	__u32 data_type;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 fault_id;
	__u32 __reserved2;
};

enum iommu_hwpt_pgfault_flags {
	IOMMU_PGFAULT_FLAGS_PASID_VALID = (1 << 0),
	IOMMU_PGFAULT_FLAGS_LAST_PAGE = (1 << 1),
};

enum iommu_hwpt_pgfault_perm {
	IOMMU_PGFAULT_PERM_READ = (1 << 0),
	IOMMU_PGFAULT_PERM_WRITE = (1 << 1),
	IOMMU_PGFAULT_PERM_EXEC = (1 << 2),
	IOMMU_PGFAULT_PERM_PRIV = (1 << 3),
};

struct iommu_hwpt_pgfault {
	__u32 flags;
	__u32 dev_id;
	__u32 pasid;
	__u32 grpid;
	__u32 perm;
	__u32 __reserved;
	__aligned_u64 addr;
	__u32 length;
	__u32 cookie;
};

enum iommufd_page_response_code {
	IOMMUFD_PAGE_RESP_SUCCESS = 0,
	IOMMUFD_PAGE_RESP_INVALID = 1,
};

struct iommu_hwpt_page_response {
	__u32 cookie;
	__u32 code;
};

struct iommu_fault_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_fault_id;
	__u32 out_fault_fd;
};

#endif /* _UAPI_IOMMUFD_H */

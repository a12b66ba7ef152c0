-- SPDX-License-Identifier: MIT
--
-- iopf.lua: a Wireshark/tshark dissector for iopftool captures, the
-- format of iopftool-capture(5): pcap link types 147..162 (LINKTYPE_USER0
-- to USER15, Wireshark's encapsulations "USER 0" to "USER 15"), each
-- frame a 32-byte little-endian record header (magic "IOPF") and a
-- payload: a struct iommu_hwpt_pgfault as the kernel delivered it
-- (include/uapi/linux/iommufd.h), a struct iommu_hwpt_page_response, a
-- count of lost records, or key=value metadata.
--
-- The decoding follows lib/record.c (iopf_rec_decode(): the same checks
-- in the same order, so the same records are malformed for the same
-- reason) and the Info column is the line `iopftool read` prints
-- (lib/print.c), without the time stamp.
--
-- Groups and responses are matched by the group rule of
-- iopftool-capture(5): a group is keyed by (queue, cookie); a FAULT joins
-- the open group of its key or opens one; the LAST_PAGE record (flags bit
-- 1) completes it; a RESPONSE refers to the most recent group of its key
-- and completes it if it is still open (a warning: LAST_PAGE missing).
-- Groups are numbered as they complete; one with neither LAST_PAGE nor a
-- response by the end of the capture is incomplete, not a group.  The
-- first response the queue accepted (status 0) answers the group; any
-- later one is a duplicate; refused ones (status an errno) are linked
-- to the group but do not answer it, as the kernel keeps such a group
-- outstanding (drivers/iommu/iommufd/fault.c: iommufd_fault_fops_write()).
-- Forward links (a fault's response) need two passes: Wireshark makes
-- them when a frame is selected, tshark with -2.
--
-- Install: copy this file into the personal Lua plugin directory
-- (~/.local/lib/wireshark/plugins/) or the global one (`make install`
-- does; `tshark -G folders` names both), or load it for one run with
-- `tshark -X lua_script:iopf.lua`.  See iopftool(8), FILES.

-- A second copy (installed and -X lua_script:) would fail to register
-- the same protocol: the first one loaded wins, and says so.
if _G.iopf_dissector_loaded then
	io.stderr:write("iopf.lua: a dissector for iopf is already loaded from " ..
	      _G.iopf_dissector_loaded .. "; this copy is not used\n")
	return
end
_G.iopf_dissector_loaded = (debug.getinfo(1, "S").source or "?"):gsub("^@", "")

local iopf = Proto("iopf", "iommufd I/O page fault capture record")

local band, bnot = bit32.band, bit32.bnot

local MAGIC = 0x46504f49	-- "IOPF" as a little-endian u32
local VERSION = 1
local HDR_LEN = 32
local FAULT_SIZE = 40
local RESP_SIZE = 8
local LOST_SIZE = 8

local T_FAULT, T_RESPONSE, T_LOST, T_META = 1, 2, 3, 4
-- Written by the tap only (iopftool-monitor(8), --source tap).
local T_DELIVERY, T_AUTO_RESPONSE, T_REPORTED = 5, 6, 7
local type_names = { [T_FAULT] = "fault", [T_RESPONSE] = "response", [T_LOST] = "lost",
		     [T_META] = "meta", [T_DELIVERY] = "delivery",
		     [T_AUTO_RESPONSE] = "auto_response", [T_REPORTED] = "reported" }
local type_vs = { [T_FAULT] = "FAULT", [T_RESPONSE] = "RESPONSE", [T_LOST] = "LOST",
		  [T_META] = "META", [T_DELIVERY] = "DELIVERY",
		  [T_AUTO_RESPONSE] = "AUTO_RESPONSE", [T_REPORTED] = "REPORTED" }
local reason_vs = { [1] = "detach", [2] = "destroy" }
local code_vs = { [0] = "SUCCESS", [1] = "INVALID" }

local FLAG_PASID_VALID, FLAG_LAST_PAGE, FLAG_NEEDS_PASID = 0x1, 0x2, 0x4
local PERM_READ, PERM_WRITE, PERM_EXEC, PERM_PRIV = 0x1, 0x2, 0x4, 0x8

-- Linux errno names, as `iopftool read` prints a refused response's
-- status (strerrorname_np(); include/uapi/asm-generic/errno*.h).
local errno_names = {
	[1]="EPERM",[2]="ENOENT",[3]="ESRCH",[4]="EINTR",[5]="EIO",[6]="ENXIO",
	[7]="E2BIG",[8]="ENOEXEC",[9]="EBADF",[10]="ECHILD",[11]="EAGAIN",[12]="ENOMEM",
	[13]="EACCES",[14]="EFAULT",[15]="ENOTBLK",[16]="EBUSY",[17]="EEXIST",[18]="EXDEV",
	[19]="ENODEV",[20]="ENOTDIR",[21]="EISDIR",[22]="EINVAL",[23]="ENFILE",[24]="EMFILE",
	[25]="ENOTTY",[26]="ETXTBSY",[27]="EFBIG",[28]="ENOSPC",[29]="ESPIPE",[30]="EROFS",
	[31]="EMLINK",[32]="EPIPE",[33]="EDOM",[34]="ERANGE",[35]="EDEADLK",[36]="ENAMETOOLONG",
	[37]="ENOLCK",[38]="ENOSYS",[39]="ENOTEMPTY",[40]="ELOOP",[42]="ENOMSG",[43]="EIDRM",
	[44]="ECHRNG",[45]="EL2NSYNC",[46]="EL3HLT",[47]="EL3RST",[48]="ELNRNG",[49]="EUNATCH",
	[50]="ENOCSI",[51]="EL2HLT",[52]="EBADE",[53]="EBADR",[54]="EXFULL",[55]="ENOANO",
	[56]="EBADRQC",[57]="EBADSLT",[59]="EBFONT",[60]="ENOSTR",[61]="ENODATA",[62]="ETIME",
	[63]="ENOSR",[64]="ENONET",[65]="ENOPKG",[66]="EREMOTE",[67]="ENOLINK",[68]="EADV",
	[69]="ESRMNT",[70]="ECOMM",[71]="EPROTO",[72]="EMULTIHOP",[73]="EDOTDOT",[74]="EBADMSG",
	[75]="EOVERFLOW",[76]="ENOTUNIQ",[77]="EBADFD",[78]="EREMCHG",[79]="ELIBACC",
	[80]="ELIBBAD",[81]="ELIBSCN",[82]="ELIBMAX",[83]="ELIBEXEC",[84]="EILSEQ",
	[85]="ERESTART",[86]="ESTRPIPE",[87]="EUSERS",[88]="ENOTSOCK",[89]="EDESTADDRREQ",
	[90]="EMSGSIZE",[91]="EPROTOTYPE",[92]="ENOPROTOOPT",[93]="EPROTONOSUPPORT",
	[94]="ESOCKTNOSUPPORT",[95]="EOPNOTSUPP",[96]="EPFNOSUPPORT",[97]="EAFNOSUPPORT",
	[98]="EADDRINUSE",[99]="EADDRNOTAVAIL",[100]="ENETDOWN",[101]="ENETUNREACH",
	[102]="ENETRESET",[103]="ECONNABORTED",[104]="ECONNRESET",[105]="ENOBUFS",
	[106]="EISCONN",[107]="ENOTCONN",[108]="ESHUTDOWN",[109]="ETOOMANYREFS",
	[110]="ETIMEDOUT",[111]="ECONNREFUSED",[112]="EHOSTDOWN",[113]="EHOSTUNREACH",
	[114]="EALREADY",[115]="EINPROGRESS",[116]="ESTALE",[117]="EUCLEAN",[118]="ENOTNAM",
	[119]="ENAVAIL",[120]="EISNAM",[121]="EREMOTEIO",[122]="EDQUOT",[123]="ENOMEDIUM",
	[124]="EMEDIUMTYPE",[125]="ECANCELED",[126]="ENOKEY",[127]="EKEYEXPIRED",
	[128]="EKEYREVOKED",[129]="EKEYREJECTED",[130]="EOWNERDEAD",[131]="ENOTRECOVERABLE",
	[132]="ERFKILL",[133]="EHWPOISON",
}

local function errno_str(e)
	return errno_names[e] or ("errno " .. e)
end

------------------------------------------------------------------------
-- Fields
------------------------------------------------------------------------
local F = {
	magic = ProtoField.uint32("iopf.magic", "Magic", base.HEX),
	version = ProtoField.uint8("iopf.version", "Version", base.DEC),
	type = ProtoField.uint8("iopf.type", "Type", base.DEC, type_vs),
	hdr_len = ProtoField.uint16("iopf.hdr_len", "Header length", base.DEC),
	queue = ProtoField.uint32("iopf.queue", "Queue (fault object id)", base.DEC),
	status = ProtoField.uint32("iopf.status", "Status", base.DEC, nil, nil,
				   "0: the queue accepted the response; else the errno it returned"),
	seq = ProtoField.uint64("iopf.seq", "Sequence number", base.DEC),
	latency_ns = ProtoField.uint64("iopf.latency_ns", "Latency (ns)", base.DEC, nil, nil,
				       "From the read that delivered the group to this response"),
	hdr_extra = ProtoField.bytes("iopf.hdr_extra", "Header bytes past version 1's 32"),

	flags = ProtoField.uint32("iopf.flags", "Flags", base.HEX),
	pasid_valid = ProtoField.bool("iopf.pasid_valid", "PASID_VALID", 32, nil,
				      FLAG_PASID_VALID),
	last = ProtoField.bool("iopf.last", "LAST_PAGE", 32, nil, FLAG_LAST_PAGE),
	needs_pasid = ProtoField.bool("iopf.flags.needs_pasid",
				      "RESPONSE_NEEDS_PASID (kernel-internal, leaked)", 32, nil,
				      FLAG_NEEDS_PASID),
	flags_unknown = ProtoField.uint32("iopf.flags.unknown",
					  "Bits other than PASID_VALID and LAST_PAGE", base.HEX),
	dev_id = ProtoField.uint32("iopf.dev_id", "Device id", base.DEC),
	pasid = ProtoField.uint32("iopf.pasid", "PASID", base.DEC),
	grpid = ProtoField.uint32("iopf.grpid", "Page request group id", base.DEC),
	perm = ProtoField.uint32("iopf.perm", "Permissions", base.HEX),
	perm_read = ProtoField.bool("iopf.perm.read", "Read", 32, nil, PERM_READ),
	perm_write = ProtoField.bool("iopf.perm.write", "Write", 32, nil, PERM_WRITE),
	perm_exec = ProtoField.bool("iopf.perm.exec", "Exec", 32, nil, PERM_EXEC),
	perm_priv = ProtoField.bool("iopf.perm.priv", "Priv", 32, nil, PERM_PRIV),
	perm_unknown = ProtoField.uint32("iopf.perm.unknown", "Unknown permission bits", base.HEX),
	reserved = ProtoField.uint32("iopf.reserved", "__reserved", base.HEX),
	addr = ProtoField.uint64("iopf.addr", "Address", base.HEX),
	length = ProtoField.uint32("iopf.length", "Length", base.DEC),
	cookie = ProtoField.uint32("iopf.cookie", "Cookie", base.DEC),
	extra = ProtoField.bytes("iopf.extra", "Payload bytes past the structure"),

	code = ProtoField.uint32("iopf.code", "Code", base.DEC, code_vs),

	lost = ProtoField.uint64("iopf.lost", "Records lost", base.DEC),

	meta_line = ProtoField.string("iopf.meta.line", "Metadata"),
	meta_key = ProtoField.string("iopf.meta.key", "Key"),
	meta_value = ProtoField.string("iopf.meta.value", "Value"),

	payload = ProtoField.bytes("iopf.payload", "Payload"),

	-- the tap's records
	records = ProtoField.uint32("iopf.delivery.records", "Records delivered", base.DEC),
	pid = ProtoField.uint32("iopf.delivery.pid", "Reader pid", base.DEC),
	tid = ProtoField.uint32("iopf.delivery.tid", "Reader tid", base.DEC),
	fd = ProtoField.uint32("iopf.delivery.fd", "Reader fd", base.DEC),
	comm = ProtoField.string("iopf.delivery.comm", "Reader comm"),
	reason = ProtoField.uint32("iopf.auto_response.reason", "Reason", base.DEC, reason_vs),

	seq_gap = ProtoField.uint64("iopf.seq_gap", "Records missing before this one", base.DEC),

	group = ProtoField.uint32("iopf.group", "Group", base.DEC, nil, nil,
				  "Groups numbered from 1 in the order they complete (LAST_PAGE or a response)"),
	group_first = ProtoField.framenum("iopf.group_first", "Group's first fault in frame",
					  base.NONE, frametype.REQUEST),
	group_last = ProtoField.framenum("iopf.group_last", "Group's LAST_PAGE fault in frame",
					 base.NONE, frametype.REQUEST),
	faults_in = ProtoField.framenum("iopf.faults_in", "Fault of the group in frame",
					base.NONE, frametype.REQUEST),
	group_size = ProtoField.uint32("iopf.group_size", "Faults in the group", base.DEC),
	response_in = ProtoField.framenum("iopf.response_in", "Response in frame", base.NONE,
					  frametype.RESPONSE),
	response_time = ProtoField.relative_time("iopf.response_time", "Response time",
						 "From the group's last fault record to the response"),
	answered_in = ProtoField.framenum("iopf.answered_in", "Group already answered in frame",
					  base.NONE, frametype.RESPONSE),
}
iopf.fields = F

------------------------------------------------------------------------
-- Expert info: the reader's classes of malformed records
-- (iopf_bad_name() in lib/record.c), then what the group rule finds.
------------------------------------------------------------------------
local MAL, SEQ, PROTO, RC = expert.group.MALFORMED, expert.group.SEQUENCE,
	expert.group.PROTOCOL, expert.group.RESPONSE_CODE
local E = {
	short = ProtoExpert.new("iopf.bad.short", "Record shorter than its header", MAL,
				expert.severity.ERROR),
	magic = ProtoExpert.new("iopf.bad.magic", "Bad magic", MAL, expert.severity.ERROR),
	version = ProtoExpert.new("iopf.bad.version", "Unknown version", MAL,
				  expert.severity.ERROR),
	hdr_len = ProtoExpert.new("iopf.bad.hdr_len", "Bad header length", MAL,
				  expert.severity.ERROR),
	payload = ProtoExpert.new("iopf.bad.payload", "Payload too short for its type", MAL,
				  expert.severity.ERROR),
	unknown_type = ProtoExpert.new("iopf.unknown_type", "Unknown record type (readers skip it)",
				       expert.group.UNDECODED, expert.severity.WARN),
	seq_gap = ProtoExpert.new("iopf.seq_gap.expert", "Sequence gap: records were lost", SEQ,
				  expert.severity.WARN),
	seq_back = ProtoExpert.new("iopf.seq_back", "Sequence number did not increase", SEQ,
				   expert.severity.WARN),
	lost = ProtoExpert.new("iopf.lost.expert", "The recorder lost records here", SEQ,
			       expert.severity.WARN),
	unknown_bits = ProtoExpert.new("iopf.unknown_bits", "Unknown flag or permission bits",
				       PROTO, expert.severity.NOTE),
	reserved = ProtoExpert.new("iopf.reserved.nonzero", "__reserved is not 0", PROTO,
				   expert.severity.WARN),
	length = ProtoExpert.new("iopf.length.nonzero", "length is not 0", PROTO,
				 expert.severity.NOTE),
	rejected = ProtoExpert.new("iopf.rejected", "The queue refused the response", RC,
				   expert.severity.WARN),
	bad_code = ProtoExpert.new("iopf.bad_code", "Response code neither SUCCESS nor INVALID", RC,
				   expert.severity.WARN),
	no_last = ProtoExpert.new("iopf.no_last_page",
				  "Group answered without its LAST_PAGE record; taken as complete",
				  SEQ, expert.severity.WARN),
	no_group = ProtoExpert.new("iopf.no_group", "Response to no group of this queue and cookie",
				   SEQ, expert.severity.WARN),
	duplicate = ProtoExpert.new("iopf.duplicate", "Group already answered", SEQ,
				    expert.severity.WARN),
	unanswered = ProtoExpert.new("iopf.unanswered", "Group never answered", SEQ,
				     expert.severity.WARN),
	incomplete = ProtoExpert.new("iopf.incomplete",
				     "Incomplete group: no LAST_PAGE record and no response by the end of the capture",
				     SEQ, expert.severity.NOTE),
}
iopf.experts = {
	E.short, E.magic, E.version, E.hdr_len, E.payload, E.unknown_type, E.seq_gap,
	E.seq_back, E.lost, E.unknown_bits, E.reserved, E.length, E.rejected, E.bad_code,
	E.no_last, E.no_group, E.duplicate, E.unanswered, E.incomplete,
}

iopf.prefs.claim_all = Pref.bool("Dissect frames without the magic as malformed iopf records",
	true, "On (default): every frame of link types 147..162 is an iopf record, one " ..
	"without the magic is flagged as malformed, as iopftool read reports it.  " ..
	"Off: such frames go to the DLT_USER table (Protocols > DLT_USER)")

------------------------------------------------------------------------
-- Per-capture state, built on the first pass over the frames
------------------------------------------------------------------------
local st

local function reset()
	st = {
		frames = {},	-- frame number -> what the first pass learnt about it
		cur = {},	-- "queue:cookie" -> the most recent group of that key
		ngroups = 0,
		next_seq = nil,	-- UInt64: the seq the next record should carry
	}
end
reset()
iopf.init = reset	-- a new capture, or dissecting all frames again

local function key_of(queue, cookie)
	return queue .. ":" .. cookie
end

-- A group is numbered when it completes (LAST_PAGE, or a response): in
-- the order a reader of the queue gets the groups.  One that never
-- completes is not a group and has no number.
local function group_close(g)
	g.closed = true
	st.ngroups = st.ngroups + 1
	g.id = st.ngroups
end

local function group_new(queue, cookie)
	return { id = nil, queue = queue, cookie = cookie, faults = {}, last = nil,
		 closed = false, no_last = nil, resps = {}, answer = nil, t_last = nil }
end

-- First pass, a FAULT: join the open group of its key or open one.
local function track_fault(fr, queue, cookie, last, ts)
	local key = key_of(queue, cookie)
	local g = st.cur[key]

	if not g or g.closed then
		g = group_new(queue, cookie)	-- an old unanswered group stays so
		st.cur[key] = g
	end
	g.faults[#g.faults + 1] = fr.num
	g.t_last = ts
	if last then
		g.last = fr.num
		group_close(g)
	end
	fr.group = g
end

-- First pass, a RESPONSE: the most recent group of its key.
local function track_response(fr, queue, cookie, status, ts)
	local g = st.cur[key_of(queue, cookie)]

	if not g then
		return
	end
	if not g.closed then	-- reads return whole groups: it was delivered
		group_close(g)
		g.no_last = fr.num
	end
	g.resps[#g.resps + 1] = fr.num
	if g.answer then	-- accepted or not, it answers an answered group
		fr.dup_of = g.answer
	elseif status == 0 then
		g.answer = fr.num
	end
	fr.group = g
	fr.t_resp = ts
end

local function track_seq(fr, seq)
	if st.next_seq then
		if seq > st.next_seq then
			fr.gap = seq - st.next_seq
		elseif seq < st.next_seq then
			fr.back = st.next_seq
		end
	end
	st.next_seq = seq + 1
end

------------------------------------------------------------------------
-- Text, as lib/print.c prints it
------------------------------------------------------------------------
local U1000 = UInt64(1000)
local U1M = UInt64(1000000)
local U1G = UInt64(1000000000)

-- 850ns, 1.234us, 12.500ms, 3.000s: format_duration()
local function duration_str(ns)
	local function frac(v) return string.format("%03d", v:tonumber()) end
	if ns < U1000 then
		return tostring(ns) .. "ns"
	elseif ns < U1M then
		return tostring(ns / U1000) .. "." .. frac(ns % U1000) .. "us"
	elseif ns < U1G then
		return tostring(ns / U1M) .. "." .. frac(ns % U1M / U1000) .. "ms"
	end
	return tostring(ns / U1G) .. "." .. frac(ns % U1G / U1M) .. "s"
end

local function hex(v)
	return string.format("0x%x", v)
end

-- "rw--", "rw--+0x10": print_perm()
local function perm_str(perm)
	local punk = band(perm, bnot(0xf))
	local s = (band(perm, PERM_READ) ~= 0 and "r" or "-") ..
		(band(perm, PERM_WRITE) ~= 0 and "w" or "-") ..
		(band(perm, PERM_EXEC) ~= 0 and "x" or "-") ..
		(band(perm, PERM_PRIV) ~= 0 and "p" or "-")
	if punk ~= 0 then s = s .. "+" .. hex(punk) end
	return s
end

local function code_str(code)
	return code == 0 and "success" or code == 1 and "invalid" or "unknown"
end

------------------------------------------------------------------------
-- Payloads
------------------------------------------------------------------------
local function add_bits_unknown(tree, field, range, v)
	if v ~= 0 then
		local it = tree:add(field, range, v)
		it:add_proto_expert_info(E.unknown_bits, "Unknown bits " .. hex(v) .. " (shown, not dropped)")
	end
end

-- struct iommu_hwpt_pgfault: iopf_fault_decode(); text: print_fault()
local function fault_fields(tvb, tree, p, plen, h)
	-- One range per field, each used for its value and its tree items.
	local rflags, rdev, rpasid, rgrpid = tvb(p, 4), tvb(p + 4, 4), tvb(p + 8, 4), tvb(p + 12, 4)
	local rperm, rres, raddr = tvb(p + 16, 4), tvb(p + 20, 4), tvb(p + 24, 8)
	local rlength, rcookie = tvb(p + 32, 4), tvb(p + 36, 4)
	local flags, dev, pasid, grpid = rflags:le_uint(), rdev:le_uint(), rpasid:le_uint(),
		rgrpid:le_uint()
	local perm, res, length, cookie = rperm:le_uint(), rres:le_uint(), rlength:le_uint(),
		rcookie:le_uint()
	local addr = raddr:le_uint64()
	local pv = band(flags, FLAG_PASID_VALID) ~= 0
	local last = band(flags, FLAG_LAST_PAGE) ~= 0
	local funk = band(flags, bnot(FLAG_PASID_VALID + FLAG_LAST_PAGE))
	local punk = band(perm, bnot(0xf))

	local ft = tree:add_le(F.flags, rflags)
	ft:add_le(F.pasid_valid, rflags)
	ft:add_le(F.last, rflags)
	ft:add_le(F.needs_pasid, rflags)
	add_bits_unknown(ft, F.flags_unknown, rflags, funk)
	tree:add_le(F.dev_id, rdev)
	local pi = tree:add_le(F.pasid, rpasid)
	if not pv then
		pi:append_text(" (not valid: PASID_VALID is clear)")
	end
	tree:add_le(F.grpid, rgrpid)
	local pt = tree:add_le(F.perm, rperm)
	pt:add_le(F.perm_read, rperm)
	pt:add_le(F.perm_write, rperm)
	pt:add_le(F.perm_exec, rperm)
	pt:add_le(F.perm_priv, rperm)
	add_bits_unknown(pt, F.perm_unknown, rperm, punk)
	local ri = tree:add_le(F.reserved, rres)
	if res ~= 0 then
		ri:add_proto_expert_info(E.reserved)
	end
	tree:add_le(F.addr, raddr)
	local li = tree:add_le(F.length, rlength)
	if length ~= 0 then
		li:add_proto_expert_info(E.length)
	end
	tree:add_le(F.cookie, rcookie)
	if plen > FAULT_SIZE then
		tree:add(F.extra, tvb(p + FAULT_SIZE, plen - FAULT_SIZE))
	end

	local s = string.format(" q%u dev %u pasid %s grpid %u perm %s", h.queue, dev,
				pv and tostring(pasid) or "-", grpid, perm_str(perm))
	if last then s = s .. " last" end
	if funk ~= 0 then s = s .. " flags " .. hex(flags) end
	s = s .. " addr 0x" .. addr:tohex(16)
	if length ~= 0 then s = s .. " length " .. length end
	s = s .. " cookie " .. cookie
	if res ~= 0 then s = s .. " reserved " .. hex(res) end

	return s, cookie, last
end

local function dissect_fault(tvb, pinfo, tree, p, plen, h, fr)
	local s, cookie, last = fault_fields(tvb, tree, p, plen, h)

	if not pinfo.visited then
		track_fault(fr, h.queue, cookie, last, pinfo.rel_ts)
	end
	return s
end

-- struct iommu_hwpt_page_response: iopf_resp_decode(); text: print_response()
local function dissect_response(tvb, pinfo, tree, p, plen, h, fr)
	local rcookie, rcode = tvb(p, 4), tvb(p + 4, 4)
	local cookie, code = rcookie:le_uint(), rcode:le_uint()

	tree:add_le(F.cookie, rcookie)
	local ci = tree:add_le(F.code, rcode)
	if code > 1 then
		ci:add_proto_expert_info(E.bad_code, "Code " .. code .. " is neither SUCCESS (0) nor INVALID (1)")
	end
	if plen > RESP_SIZE then
		tree:add(F.extra, tvb(p + RESP_SIZE, plen - RESP_SIZE))
	end

	local s = string.format(" q%u cookie %u %s", h.queue, cookie, code_str(code))
	if code > 1 then s = s .. " code " .. code end
	if h.status ~= 0 then s = s .. " rejected " .. errno_str(h.status) end
	s = s .. " latency " .. duration_str(h.latency)

	if not pinfo.visited then
		track_response(fr, h.queue, cookie, h.status, pinfo.rel_ts)
	end
	return s
end

local function dissect_lost(tvb, pinfo, tree, p, plen, h, fr)
	local r = tvb(p, 8)
	local n = r:le_uint64()
	local it = tree:add_le(F.lost, r)

	it:add_proto_expert_info(E.lost, tostring(n) .. (n == UInt64(1) and " record" or " records") ..
				 " lost just before this one")
	if plen > LOST_SIZE then
		tree:add(F.extra, tvb(p + LOST_SIZE, plen - LOST_SIZE))
	end
	return " " .. tostring(n) .. (n == UInt64(1) and " record" or " records")
end

-- key=value lines: print_meta()
local function dissect_meta(tvb, pinfo, tree, p, plen, h, fr)
	local text = plen > 0 and tvb:raw(p, plen) or ""
	local s, pos = "", 1

	while pos <= #text do
		local nl = text:find("\n", pos, true)
		local e = nl and nl - 1 or #text
		local line = text:sub(pos, e)
		local n = #line
		if line:sub(-1) == "\r" then line = line:sub(1, -2) end
		if #line > 0 then
			line = line:gsub("\0", "?")
			local k, v = line:match("^([^=]*)=(.*)$")
			if not k then k, v = line, "" end
			local r = tvb(p + pos - 1, n)
			local lt = tree:add(F.meta_line, r, line)
			lt:add(F.meta_key, r, k)
			lt:add(F.meta_value, r, v)
			s = s .. " " .. k .. "=" .. v
		end
		if not nl then break end
		pos = nl + 1
	end
	return s
end

-- The tap's records (print_delivery(), print_auto_response(),
-- print_reported() in lib/print.c): any payload length; a field past its
-- end reads 0 and is not in the tree.
local function tap_u32(tvb, tree, field, p, plen, off)
	if plen < off + 4 then
		return 0
	end
	local r = tvb(p + off, 4)
	if field then
		tree:add_le(field, r)
	end
	return r:le_uint()
end

-- DELIVERY: cookie, records, pid, tid, fd, dev_id, comm[16]
local function dissect_delivery(tvb, pinfo, tree, p, plen, h, fr)
	local cookie = tap_u32(tvb, tree, F.cookie, p, plen, 0)
	local records = tap_u32(tvb, tree, F.records, p, plen, 4)
	local pid = tap_u32(tvb, tree, F.pid, p, plen, 8)
	local tid = tap_u32(tvb, tree, F.tid, p, plen, 12)
	local fd = tap_u32(tvb, tree, F.fd, p, plen, 16)
	local dev = tap_u32(tvb, tree, F.dev_id, p, plen, 20)
	local comm = ""
	if plen >= 40 then
		local raw = tvb:raw(p + 24, 16)
		comm = raw:match("^[^\0]*"):gsub("[^\32-\126]", "?")
		tree:add(F.comm, tvb(p + 24, 16), comm)
	end
	return string.format(" q%u cookie %u records %u dev %u pid %u tid %u fd %s comm %s",
			     h.queue, cookie, records, dev, pid, tid,
			     fd == 0xffffffff and "-" or tostring(fd), comm)
end

-- AUTO_RESPONSE: cookie, code, dev_id, reason, grpid, pasid, flags, perm, addr
local function dissect_auto_response(tvb, pinfo, tree, p, plen, h, fr)
	local cookie = tap_u32(tvb, tree, F.cookie, p, plen, 0)
	local code = tap_u32(tvb, tree, F.code, p, plen, 4)
	local dev = tap_u32(tvb, tree, F.dev_id, p, plen, 8)
	local reason = tap_u32(tvb, tree, F.reason, p, plen, 12)
	local grpid = tap_u32(tvb, tree, F.grpid, p, plen, 16)
	local pasid = tap_u32(tvb, tree, F.pasid, p, plen, 20)
	local flags = tap_u32(tvb, tree, F.flags, p, plen, 24)
	local perm = tap_u32(tvb, tree, F.perm, p, plen, 28)
	local lo = tap_u32(tvb, nil, nil, p, plen, 32)
	local hi = tap_u32(tvb, nil, nil, p, plen, 36)
	local addr = UInt64(lo, hi)
	if plen >= 40 then
		tree:add_le(F.addr, tvb(p + 32, 8))
	end
	local s = string.format(" q%u cookie %u %s dev %u grpid %u pasid %s perm %s addr 0x%s %s",
				h.queue, cookie, code_str(code), dev, grpid,
				band(flags, FLAG_PASID_VALID) ~= 0 and tostring(pasid) or "-",
				perm_str(perm), addr:tohex(16), reason_vs[reason] or "unknown")
	if cookie ~= 0 then
		return s .. " latency " .. duration_str(h.latency)
	end
	return s .. " never read"
end

-- REPORTED: a struct iommu_hwpt_pgfault as the device reported it
local function dissect_reported(tvb, pinfo, tree, p, plen, h, fr)
	if plen >= FAULT_SIZE then
		return (fault_fields(tvb, tree, p, plen, h))
	end
	return string.format(" q%u dev 0 pasid - grpid 0 perm ---- addr 0x%016x cookie 0", h.queue, 0)
end

local payloads = {
	[T_FAULT] = { min = FAULT_SIZE, fn = dissect_fault },
	[T_RESPONSE] = { min = RESP_SIZE, fn = dissect_response },
	[T_LOST] = { min = LOST_SIZE, fn = dissect_lost },
	[T_META] = { min = 0, fn = dissect_meta },
	[T_DELIVERY] = { min = 0, fn = dissect_delivery },
	[T_AUTO_RESPONSE] = { min = 0, fn = dissect_auto_response },
	[T_REPORTED] = { min = 0, fn = dissect_reported },
}

------------------------------------------------------------------------
-- Links between a group's faults and its responses (second pass)
------------------------------------------------------------------------
local function gen(it)
	it:set_generated()
	return it
end

-- Seconds between two frames' times (pinfo.rel_ts, a double: seconds since
-- the first frame, so exact to the nanosecond for captures of days).
local function reltime(t0, t1)
	local ns = math.floor((t1 - t0) * 1e9 + 0.5)
	local secs = math.floor(ns / 1e9)
	return NSTime.new(secs, ns - secs * 1e9)
end

local function link_fault(tree, fr, visited)
	local g = fr.group
	if g.id then
		gen(tree:add(F.group, g.id))
	end
	gen(tree:add(F.group_first, g.faults[1]))
	if g.last then
		gen(tree:add(F.group_last, g.last))
	end
	gen(tree:add(F.group_size, #g.faults))
	local r = g.answer or g.resps[1]
	if r then
		gen(tree:add(F.response_in, r))
		local rt = st.frames[r] and st.frames[r].t_resp
		if rt and g.t_last then
			gen(tree:add(F.response_time, reltime(g.t_last, rt)))
		end
	end
	if not visited then
		return	-- whether the group ends well is known after the first pass
	end
	if not g.closed then
		tree:add_proto_expert_info(E.incomplete)
	elseif not g.answer then
		tree:add_proto_expert_info(E.unanswered, "Group " .. g.id ..
			(#g.resps > 0 and " got only refused responses" or " never answered"))
	end
end

local function link_response(tree, fr, h, cookie_range)
	local g = fr.group
	if not g then
		tree:add_proto_expert_info(E.no_group, string.format(
			"No group with cookie %u on queue %u", cookie_range:le_uint(), h.queue))
		return
	end
	gen(tree:add(F.group, g.id))	-- a response completes its group: it has one
	gen(tree:add(F.group_first, g.faults[1]))
	if g.last then
		gen(tree:add(F.group_last, g.last))
	end
	gen(tree:add(F.group_size, #g.faults))
	for _, n in ipairs(g.faults) do
		gen(tree:add(F.faults_in, n))
	end
	if fr.t_resp and g.t_last then
		gen(tree:add(F.response_time, reltime(g.t_last, fr.t_resp)))
	end
	if g.no_last == fr.num then
		tree:add_proto_expert_info(E.no_last, string.format(
			"Group %u (cookie %u) has no LAST_PAGE record; this response completes it",
			g.id, g.cookie))
	end
	if fr.dup_of then
		gen(tree:add(F.answered_in, fr.dup_of))
		tree:add_proto_expert_info(E.duplicate, "Group " .. g.id ..
			" was already answered in frame " .. fr.dup_of)
	end
end

------------------------------------------------------------------------
-- The record: iopf_rec_decode()
------------------------------------------------------------------------
local function malformed(tree, pinfo, item, ex, text)
	item:add_proto_expert_info(ex, text)
	pinfo.cols.info:set("malformed: " .. text)
end

local user_dlt = {}	-- what the wtap_encap table held before us

function iopf.dissector(tvb, pinfo, tree)
	local caplen = tvb:len()
	local rmagic = caplen >= 4 and tvb(0, 4)
	local magic = rmagic and rmagic:le_uint()
	local has_magic = magic == MAGIC

	if not has_magic and not iopf.prefs.claim_all then
		local d = user_dlt[pinfo.match_uint]
		if d then
			return d:call(tvb, pinfo, tree)
		end
		return 0
	end

	pinfo.cols.protocol:set("IOPF")
	local root = tree:add(iopf, tvb(0, caplen))
	local fr = st.frames[pinfo.number]
	if not fr then
		fr = { num = pinfo.number }
		st.frames[pinfo.number] = fr
	end

	if caplen < HDR_LEN then
		if caplen > 0 then
			root:add(F.payload, tvb(0, caplen))
		end
		malformed(root, pinfo, root, E.short, string.format(
			"short record: %d bytes, the header needs %d", caplen, HDR_LEN))
		return caplen
	end
	local mi = root:add_le(F.magic, rmagic)
	if magic ~= MAGIC then
		malformed(root, pinfo, mi, E.magic, string.format("bad magic 0x%08x", magic))
		root:add(F.payload, tvb(4, caplen - 4))
		return caplen
	end
	local rversion = tvb(4, 1)
	local version = rversion:uint()
	local vi = root:add(F.version, rversion)
	if version ~= VERSION then
		malformed(root, pinfo, vi, E.version, "unknown version " .. version)
		root:add(F.payload, tvb(5, caplen - 5))
		return caplen
	end
	local rt = tvb(5, 1)
	local rtype = rt:uint()
	local ti = root:add(F.type, rt)
	local rhl = tvb(6, 2)
	local hdr_len = rhl:le_uint()
	local hi = root:add_le(F.hdr_len, rhl)
	if hdr_len < HDR_LEN or hdr_len > caplen then
		malformed(root, pinfo, hi, E.hdr_len, string.format(
			"bad hdr_len %d in a %d-byte record", hdr_len, caplen))
		root:add(F.payload, tvb(8, caplen - 8))
		return caplen
	end
	local rq, rs, rseq, rlat = tvb(8, 4), tvb(12, 4), tvb(16, 8), tvb(24, 8)
	local h = {
		queue = rq:le_uint(),
		status = rs:le_uint(),
		seq = rseq:le_uint64(),
		latency = rlat:le_uint64(),
	}
	root:add_le(F.queue, rq)
	local si = root:add_le(F.status, rs)
	if h.status ~= 0 then
		si:append_text(" (" .. errno_str(h.status) .. ")")
		if rtype == T_RESPONSE then
			si:add_proto_expert_info(E.rejected, "The queue refused the response: " ..
						 errno_str(h.status))
		end
	end
	local qi = root:add_le(F.seq, rseq)
	root:add_le(F.latency_ns, rlat)
	if hdr_len > HDR_LEN then
		root:add(F.hdr_extra, tvb(HDR_LEN, hdr_len - HDR_LEN))
	end

	if not pinfo.visited then
		track_seq(fr, h.seq)
	end
	if fr.gap then
		gen(qi:add(F.seq_gap, fr.gap))
		qi:add_proto_expert_info(E.seq_gap, tostring(fr.gap) .. " records missing before this one")
	elseif fr.back then
		qi:add_proto_expert_info(E.seq_back, "seq " .. tostring(h.seq) .. ", expected " ..
					 tostring(fr.back))
	end

	local p, plen = hdr_len, caplen - hdr_len
	local pl = payloads[rtype]
	local prefix = "#" .. tostring(h.seq) .. " "
	if not pl then
		ti:add_proto_expert_info(E.unknown_type, "Unknown record type " .. rtype ..
					 ": iopftool read skips it")
		if plen > 0 then
			root:add(F.payload, tvb(p, plen))
		end
		pinfo.cols.info:set(prefix .. "unknown record type " .. rtype)
		return caplen
	end
	root:append_text(", " .. type_vs[rtype])
	if plen < pl.min then
		malformed(root, pinfo, root, E.payload, string.format(
			"%s payload too short: %d bytes", type_names[rtype], plen))
		if plen > 0 then
			root:add(F.payload, tvb(p, plen))
		end
		return caplen
	end
	local text = pl.fn(tvb, pinfo, root, p, plen, h, fr)
	pinfo.cols.info:set(prefix .. type_names[rtype] .. text)

	if rtype == T_FAULT and fr.group then
		link_fault(root, fr, pinfo.visited)
	elseif rtype == T_RESPONSE then
		link_response(root, fr, h, tvb(p, 4))
	end
	return caplen
end

-- Every link type the reader accepts: 147..162, LINKTYPE_USER0..USER15.
do
	local t = DissectorTable.get("wtap_encap")
	for i = 0, 15 do
		local enc = wtap_encaps["USER" .. i]
		user_dlt[enc] = t:get_dissector(enc)
		t:add(enc, iopf)
	end
end

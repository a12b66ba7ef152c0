// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the record decoder and both printers alone, on raw
 * record bytes (no pcap container, no reader): fuzz-capture.c's raw
 * record path, hundreds of times faster per input because it opens no
 * file, so that header and payload length bugs are found in seconds.
 */
#define FUZZ_RECORD_ONLY 1
#include "fuzz-capture.c"

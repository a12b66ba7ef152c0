// SPDX-License-Identifier: MIT
/*
 * json-get FILE|- PATH: print one value of a JSON document, for the shell
 * tests.  PATH is dot-separated: object members by name, array elements
 * by index ("violations.grpid_echo", "latency_ns.p50", "hist.0.count").
 * An empty PATH or "." prints the whole document.  Strings print raw,
 * everything else as compact JSON.
 * Exit: 0 printed, 1 no such member, 2 unreadable or not one JSON document.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		char *nb = realloc(buf, cap * 2);

		if (!nb) {
			free(buf);
			return NULL;
		}
		buf = nb;
		cap *= 2;
	}
	if (buf && ferror(f)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* Parse exactly one document; trailing white space only. */
static json_object *parse(const char *buf, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;
	size_t end;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (json_tokener_get_error(tok) != json_tokener_success)
		o = NULL;
	for (; o && end < len; end++) {
		if (!strchr(" \t\r\n", buf[end])) {
			json_object_put(o);
			o = NULL;
		}
	}
	json_tokener_free(tok);
	return o;
}

static bool parse_index(const char *s, size_t *idx)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*idx = strtoul(s, &end, 10);
	return !errno && !*end;
}

/* One step down: member name or array index (a JSON null is NULL). */
static bool step(json_object **o, const char *name)
{
	size_t idx;

	if (json_object_is_type(*o, json_type_object))
		return json_object_object_get_ex(*o, name, o);
	if (json_object_is_type(*o, json_type_array) && parse_index(name, &idx) &&
	    idx < json_object_array_length(*o)) {
		*o = json_object_array_get_idx(*o, idx);
		return true;
	}
	return false;
}

static bool lookup(json_object *root, char *path, json_object **v)
{
	char *save = NULL;

	*v = root;
	for (char *c = strtok_r(path, ".", &save); c; c = strtok_r(NULL, ".", &save)) {
		if (!*v || !step(v, c))
			return false;
	}
	return true;
}

static void print_value(json_object *v)
{
	if (!v || json_object_is_type(v, json_type_null))
		puts("null");
	else if (json_object_is_type(v, json_type_string))
		puts(json_object_get_string(v));
	else
		puts(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

int main(int argc, char **argv)
{
	FILE *f;
	char *buf;
	size_t len = 0;
	json_object *root, *v;

	if (argc != 3) {
		fprintf(stderr, "usage: json-get FILE|- PATH\n");
		return 2;
	}
	f = strcmp(argv[1], "-") ? fopen(argv[1], "r") : stdin;
	if (!f) {
		fprintf(stderr, "json-get: cannot open %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	buf = slurp(f, &len);
	root = buf ? parse(buf, len) : NULL;
	free(buf);
	if (!root) {
		fprintf(stderr, "json-get: %s: not one JSON document\n", argv[1]);
		return 2;
	}
	if (!lookup(root, argv[2], &v)) {
		fprintf(stderr, "json-get: %s: no member '%s'\n", argv[1], argv[2]);
		json_object_put(root);
		return 1;
	}
	print_value(v);
	json_object_put(root);
	return 0;
}

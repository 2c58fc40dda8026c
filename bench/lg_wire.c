/* lg_wire: see lg_wire.h. Only what a load generator and a trivial server
 * need; the broker's own codecs are what is being measured, not used. */
#include "lg_wire.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>
#include <time.h>

ssize_t lg_frame_parse(const uint8_t *p, size_t n, struct lg_frame *f)
{
	if (n < 2)
		return 0;
	f->fin = p[0] >> 7;
	if (p[0] & 0x70)
		return -1;
	f->opcode = p[0] & 0x0f;
	if ((f->opcode > 2 && f->opcode < 8) || f->opcode > 10)
		return -1;
	f->masked = p[1] >> 7;
	uint64_t len = p[1] & 0x7f;
	size_t h = 2;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		h = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		if (len >> 63)
			return -1;
		h = 10;
	}
	if (f->masked) {
		if (n < h + 4)
			return 0;
		memcpy(f->mask, p + h, 4);
		h += 4;
	}
	f->len = len;
	f->header_len = h;
	return (ssize_t)h;
}

size_t lg_frame_encode(uint8_t *out, int opcode, const void *payload, size_t len,
		       const uint8_t *mask)
{
	size_t h = 0;
	out[h++] = (uint8_t)(0x80 | (opcode & 0x0f));
	uint8_t mbit = mask ? 0x80 : 0;
	if (len < 126) {
		out[h++] = (uint8_t)(mbit | len);
	} else if (len < 65536) {
		out[h++] = mbit | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = mbit | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (mask) {
		memcpy(out + h, mask, 4);
		h += 4;
		const uint8_t *s = payload;
		for (size_t i = 0; i < len; i++)
			out[h + i] = s[i] ^ mask[i & 3];
	} else if (len) {
		memcpy(out + h, payload, len);
	}
	return h + len;
}

size_t lg_base64(char *out, const uint8_t *in, size_t n, int url)
{
	static const char std[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char web[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *a = url ? web : std;
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		else if (!url)
			out[o++] = '=';
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

void lg_ws_accept(const char *key, size_t keylen, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	uint8_t buf[128], md[SHA_DIGEST_LENGTH];
	if (keylen > sizeof(buf) - (sizeof(guid) - 1))
		keylen = sizeof(buf) - (sizeof(guid) - 1);
	memcpy(buf, key, keylen);
	memcpy(buf + keylen, guid, sizeof(guid) - 1);
	SHA1(buf, keylen + sizeof(guid) - 1, md);
	lg_base64(out, md, sizeof(md), 0);
}

int lg_jwt_hs256(char *out, size_t cap, const char *secret, const char *claims_json)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	size_t clen = strlen(claims_json);
	size_t need = 4 * ((sizeof(hdr) + 2) / 3) + 4 * ((clen + 2) / 3) + 2 + 44 + 1;
	if (need > cap)
		return -1;
	size_t o = lg_base64(out, (const uint8_t *)hdr, sizeof(hdr) - 1, 1);
	out[o++] = '.';
	o += lg_base64(out + o, (const uint8_t *)claims_json, clen, 1);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)out, o, md, &mdlen);
	out[o++] = '.';
	o += lg_base64(out + o, md, mdlen, 1);
	return (int)o;
}

uint64_t lg_now_real_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t lg_now_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

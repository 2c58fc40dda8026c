/* hmap: chained hashing with power-of-two buckets (FNV-1a), grown at load 1. */
#include "hmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void hmap_init(struct hmap *h, hmap_key_fn key)
{
	h->b = NULL;
	h->nb = h->n = 0;
	h->key = key;
}

void hmap_fini(struct hmap *h)
{
	free(h->b);
	h->b = NULL;
	h->nb = h->n = 0;
}

uint32_t hmap_hash(const char *s, size_t len)
{
	uint32_t x = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		x ^= (uint8_t)s[i];
		x *= 16777619u;
	}
	return x;
}

struct hnode *hmap_get(const struct hmap *h, const char *key, size_t len)
{
	if (h->nb == 0)
		return NULL;
	uint32_t x = hmap_hash(key, len);
	for (struct hnode *n = h->b[x & (h->nb - 1)]; n != NULL; n = n->next) {
		if (n->hash != x)
			continue;
		const char *k = h->key(n);
		if (strncmp(k, key, len) == 0 && k[len] == '\0')
			return n;
	}
	return NULL;
}

static int grow(struct hmap *h)
{
	size_t nb = h->nb ? h->nb * 2 : 16;
	struct hnode **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < h->nb; i++) {
		struct hnode *n = h->b[i];
		while (n != NULL) {
			struct hnode *next = n->next;
			size_t j = n->hash & (nb - 1);
			n->next = b[j];
			b[j] = n;
			n = next;
		}
	}
	free(h->b);
	h->b = b;
	h->nb = nb;
	return 0;
}

int hmap_put(struct hmap *h, struct hnode *n, const char *key, size_t len)
{
	if (h->n >= h->nb && grow(h) < 0)
		return -ENOMEM;
	n->hash = hmap_hash(key, len);
	size_t j = n->hash & (h->nb - 1);
	n->next = h->b[j];
	h->b[j] = n;
	h->n++;
	return 0;
}

void hmap_del(struct hmap *h, struct hnode *n)
{
	if (h->nb == 0)
		return;
	struct hnode **pp = &h->b[n->hash & (h->nb - 1)];
	while (*pp != NULL) {
		if (*pp == n) {
			*pp = n->next;
			h->n--;
			return;
		}
		pp = &(*pp)->next;
	}
}

struct hnode *hmap_next(const struct hmap *h, size_t *i, struct hnode **cur)
{
	/* cur holds the node to return next, read before the caller may delete
	 * the one it got */
	struct hnode *n = *cur;
	while (n == NULL) {
		if (*i >= h->nb)
			return NULL;
		n = h->b[(*i)++];
	}
	*cur = n->next;
	return n;
}

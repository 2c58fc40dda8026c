/* hmap: an intrusive chained hash table keyed by strings. Objects embed a
 * struct hnode and keep their own key; the table stores only pointers, so
 * an entry costs one bucket slot plus the node. */
#ifndef PD_HMAP_H
#define PD_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode *next;
	uint32_t hash;
};

/* Returns the key of the object holding node n (borrowed). */
typedef const char *(*hmap_key_fn)(const struct hnode *n);

struct hmap {
	struct hnode **b;
	size_t nb, n;
	hmap_key_fn key;
};

void hmap_init(struct hmap *h, hmap_key_fn key);
void hmap_fini(struct hmap *h); /* frees the buckets, not the objects */
uint32_t hmap_hash(const char *s, size_t len);
struct hnode *hmap_get(const struct hmap *h, const char *key, size_t len);
/* The key must not be present. 0 or -ENOMEM. */
int hmap_put(struct hmap *h, struct hnode *n, const char *key, size_t len);
void hmap_del(struct hmap *h, struct hnode *n);
/* Iterate: start with *i = 0 and cur = NULL; returns the next node or NULL.
 * The current node may be deleted during the walk. */
struct hnode *hmap_next(const struct hmap *h, size_t *i, struct hnode **cur);

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

#endif

/*
 * eddy/list.h — intrusive doubly linked list (circular, with a head node).
 *
 * Embed an eddy_list_t in a struct and recover the struct with
 * EDDY_CONTAINER_OF. Nothing here allocates; a node may be on one list at a
 * time, and eddy_list_remove leaves it self-linked so removing twice is safe.
 */
#ifndef EDDY_LIST_H
#define EDDY_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct eddy_list {
    struct eddy_list *prev;
    struct eddy_list *next;
} eddy_list_t;

#define EDDY_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void eddy_list_init(eddy_list_t *l)
{
    l->prev = l->next = l;
}
static inline bool eddy_list_empty(const eddy_list_t *l)
{
    return l->next == l;
}
static inline void eddy_list_insert_tail(eddy_list_t *head, eddy_list_t *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}
static inline void eddy_list_remove(eddy_list_t *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}
/* Move node to the tail of head's list (O(1); node may be on it already). */
static inline void eddy_list_move_tail(eddy_list_t *head, eddy_list_t *node)
{
    eddy_list_remove(node);
    eddy_list_insert_tail(head, node);
}
static inline eddy_list_t *eddy_list_first(const eddy_list_t *head)
{
    return head->next == head ? NULL : head->next;
}

/* Iterate safely: the current node may be removed inside the body. */
#define EDDY_LIST_FOREACH_SAFE(node, tmp, head)                                                    \
    for ((node) = (head)->next, (tmp) = (node)->next; (node) != (head);                            \
         (node) = (tmp), (tmp) = (node)->next)

#endif

/*
 * eddy_list_t: insert_tail, remove (twice is safe), move_tail (also of a node
 * already on the list, and between lists), first, EDDY_CONTAINER_OF, and
 * EDDY_LIST_FOREACH_SAFE with removal of the current node.
 */
#include "eddy/list.h"
#include "test.h"

struct item {
    int id;
    eddy_list_t link;
};

/* Check the list holds exactly ids[0..n) in order, both directions. */
static void check_ids(const eddy_list_t *head, const int *ids, int n)
{
    int i = 0;
    for (const eddy_list_t *l = head->next; l != head; l = l->next) {
        CHECK(i < n);
        CHECK(l->next->prev == l);
        CHECK_EQ(EDDY_CONTAINER_OF(l, struct item, link)->id, ids[i]);
        i++;
    }
    CHECK_EQ(i, n);
    for (const eddy_list_t *l = head->prev; l != head; l = l->prev) {
        CHECK(i > 0);
        CHECK(l->prev->next == l);
        CHECK_EQ(EDDY_CONTAINER_OF(l, struct item, link)->id, ids[--i]);
    }
    CHECK_EQ(i, 0);
    CHECK_EQ(eddy_list_empty(head), n == 0);
    if (n == 0)
        CHECK(eddy_list_first(head) == NULL);
    else
        CHECK_EQ(EDDY_CONTAINER_OF(eddy_list_first(head), struct item, link)->id, ids[0]);
}

static void test_empty(void)
{
    eddy_list_t head;
    eddy_list_init(&head);
    CHECK(eddy_list_empty(&head));
    CHECK(eddy_list_first(&head) == NULL);
    eddy_list_t *node, *tmp;
    int visits = 0;
    EDDY_LIST_FOREACH_SAFE(node, tmp, &head) visits++;
    CHECK_EQ(visits, 0);
}

static void test_insert_remove(void)
{
    eddy_list_t head;
    eddy_list_init(&head);
    struct item it[5];
    for (int i = 0; i < 5; i++) {
        it[i].id = i;
        eddy_list_init(&it[i].link);
        eddy_list_insert_tail(&head, &it[i].link);
    }
    check_ids(&head, (int[]){0, 1, 2, 3, 4}, 5);

    eddy_list_remove(&it[2].link); /* middle */
    check_ids(&head, (int[]){0, 1, 3, 4}, 4);
    /* A removed node is self-linked, so removing it again is harmless. */
    CHECK(it[2].link.next == &it[2].link && it[2].link.prev == &it[2].link);
    CHECK(eddy_list_empty(&it[2].link));
    eddy_list_remove(&it[2].link);
    check_ids(&head, (int[]){0, 1, 3, 4}, 4);

    eddy_list_remove(&it[0].link); /* first */
    check_ids(&head, (int[]){1, 3, 4}, 3);
    eddy_list_remove(&it[4].link); /* last */
    check_ids(&head, (int[]){1, 3}, 2);
    eddy_list_insert_tail(&head, &it[0].link); /* reinsert a removed node */
    check_ids(&head, (int[]){1, 3, 0}, 3);
    eddy_list_remove(&it[1].link);
    eddy_list_remove(&it[3].link);
    eddy_list_remove(&it[0].link);
    check_ids(&head, NULL, 0);
}

static void test_move_tail(void)
{
    eddy_list_t a, b;
    eddy_list_init(&a);
    eddy_list_init(&b);
    struct item it[4];
    for (int i = 0; i < 4; i++) {
        it[i].id = i;
        eddy_list_init(&it[i].link);
        eddy_list_insert_tail(&a, &it[i].link);
    }
    /* Move within the same list (LRU touch). */
    eddy_list_move_tail(&a, &it[1].link);
    check_ids(&a, (int[]){0, 2, 3, 1}, 4);
    eddy_list_move_tail(&a, &it[1].link); /* already the tail */
    check_ids(&a, (int[]){0, 2, 3, 1}, 4);
    eddy_list_move_tail(&a, &it[0].link); /* the head's first */
    check_ids(&a, (int[]){2, 3, 1, 0}, 4);
    /* Move to another list. */
    eddy_list_move_tail(&b, &it[3].link);
    check_ids(&a, (int[]){2, 1, 0}, 3);
    check_ids(&b, (int[]){3}, 1);
    /* A self-linked (never inserted / removed) node can be moved too. */
    struct item lone = {.id = 9};
    eddy_list_init(&lone.link);
    eddy_list_move_tail(&b, &lone.link);
    check_ids(&b, (int[]){3, 9}, 2);
    /* Only element of a list moved onto itself. */
    eddy_list_t c;
    eddy_list_init(&c);
    struct item solo = {.id = 5};
    eddy_list_insert_tail(&c, &solo.link);
    eddy_list_move_tail(&c, &solo.link);
    check_ids(&c, (int[]){5}, 1);
}

static void test_foreach_safe_remove(void)
{
    enum { N = 100 };
    eddy_list_t head, other;
    eddy_list_init(&head);
    eddy_list_init(&other);
    struct item it[N];
    for (int i = 0; i < N; i++) {
        it[i].id = i;
        eddy_list_insert_tail(&head, &it[i].link);
    }
    /* Remove every even id while iterating; visit order is insertion order. */
    eddy_list_t *node, *tmp;
    int expect = 0;
    EDDY_LIST_FOREACH_SAFE(node, tmp, &head)
    {
        struct item *x = EDDY_CONTAINER_OF(node, struct item, link);
        CHECK_EQ(x->id, expect);
        expect++;
        if (x->id % 2 == 0) eddy_list_remove(node);
    }
    CHECK_EQ(expect, N);
    int odd[N / 2];
    for (int i = 0; i < N / 2; i++)
        odd[i] = 2 * i + 1;
    check_ids(&head, odd, N / 2);

    /* Move the current node to another list while iterating. */
    int visits = 0;
    EDDY_LIST_FOREACH_SAFE(node, tmp, &head)
    {
        visits++;
        if (EDDY_CONTAINER_OF(node, struct item, link)->id % 4 == 1)
            eddy_list_move_tail(&other, node);
    }
    CHECK_EQ(visits, N / 2);
    int n_other = 0, n_head = 0;
    EDDY_LIST_FOREACH_SAFE(node, tmp, &other)
    {
        CHECK_EQ(EDDY_CONTAINER_OF(node, struct item, link)->id % 4, 1);
        n_other++;
    }
    EDDY_LIST_FOREACH_SAFE(node, tmp, &head)
    {
        CHECK_EQ(EDDY_CONTAINER_OF(node, struct item, link)->id % 4, 3);
        n_head++;
    }
    CHECK_EQ(n_other, N / 4);
    CHECK_EQ(n_head, N / 4);

    /* Remove everything while iterating leaves an empty list. */
    EDDY_LIST_FOREACH_SAFE(node, tmp, &head) eddy_list_remove(node);
    check_ids(&head, NULL, 0);
    EDDY_LIST_FOREACH_SAFE(node, tmp, &other) eddy_list_remove(node);
    check_ids(&other, NULL, 0);
}

int main(void)
{
    RUN(test_empty);
    RUN(test_insert_remove);
    RUN(test_move_tail);
    RUN(test_foreach_safe_remove);
    return 0;
}

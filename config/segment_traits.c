/* config/segment_traits.c - the trait hook of segment rules
 * (clm_attr_traits in core/segment_attrs.h) over the customer traits of
 * core/trait.h: a rule's unknown name is looked up among the configured
 * traits when the rule is compiled, and the trait's value is read when it is
 * evaluated.
 *
 * The value is read by the trait's name, not its position in the customer's
 * trait block: the segment job evaluates checkpoints as stored, which keep
 * the trait order of the config that wrote them until their worker loads
 * them again (README "Traits and custom event types"), so a value follows
 * its name here too, and a value whose trait changed type or rule reads as
 * unset.
 *
 * Thread-safety: as core/trait.h; the hook keeps no state of its own.
 */
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/segment_traits.h"
#include "core/customer.h"
#include "core/segment_attrs.h"
#include "core/trait.h"

_Static_assert((int)CLM_TRAIT_NONE == (int)CLM_RULE_NONE && (int)CLM_TRAIT_STR == (int)CLM_RULE_STR &&
                   (int)CLM_TRAIT_NUM == (int)CLM_RULE_NUM &&
                   (int)CLM_TRAIT_BOOL == (int)CLM_RULE_BOOL,
               "trait kinds and rule value kinds agree");

static int trait_index(const void *tctx, const char *name, size_t len)
{
    return clm_trait_index((const clm_config *)tctx, name, len);
}

static void trait_get(const void *tctx, const clm_customer *c, int idx, clm_rule_value *out)
{
    const clm_config *cfg = tctx;
    clm_trait_value t = {0};

    if (cfg->traits && idx >= 0 && (size_t)idx < cfg->traits->n)
        clm_traits_get_named(c->traits, c->traits_len, &cfg->traits->t[idx], &t);
    *out = (clm_rule_value){.kind = (clm_rule_kind)t.kind, .num = t.num, .b = t.b,
                            .str = t.str, .len = t.len};
}

void clm_segment_traits_init(clm_attr_traits *hook, const clm_config *cfg)
{
    *hook = (clm_attr_traits){.index = trait_index, .get = trait_get, .tctx = cfg};
}

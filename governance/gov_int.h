/* governance/gov_int.h — internals shared by the governance module's files (never included
 * from outside governance/ and its tests). */
#ifndef SN_GOV_INT_H
#define SN_GOV_INT_H

#include "governance/governance.h"

#define GOV_TAG_PAYLOAD "settled/gov/pay"
#define GOV_TAG_APPROVAL "settled/gov/appr"

/* Index of key in a sorted member list, or -1. */
int gov__member_find(const struct gov_track_members *t, const uint8_t key[SN_PUBKEY_LEN]);
/* Validation of a decoded or to-be-encoded payload (everything but the framing). */
SN_MUST_CHECK int gov__payload_validate(const struct gov_payload *p);

#endif

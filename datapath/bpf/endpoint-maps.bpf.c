// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* No programs: loading this object creates one endpoint's own maps (policy, its counters and its
 * enforcement switches) for the node's shared endpoint programs, which reach them through the
 * ciliate_*_maps outer maps. The definitions are the per-endpoint programs' own. */
#include "lib/policy-maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

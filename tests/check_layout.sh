#!/bin/sh
# Module boundaries (DESIGN.md): a private header (*_int.h) is included only from its own
# folder (or that module's tests), and a lower module never includes a higher one:
# common <- storage <- governance <- consensus <- net <- node.
set -eu
root=$1
cd "$root"
fail=0
order="common storage governance consensus net node"
rank() { i=0; for m in $order; do [ "$m" = "$1" ] && { echo $i; return; }; i=$((i+1)); done; echo 99; }

for m in $order; do
	[ -d "$m" ] || continue
	for f in $(find "$m" -name '*.[ch]'); do
		for inc in $(grep -hoE '^#include "[a-z]+/[a-z_]+\.h"' "$f" | sed 's/.*"\(.*\)"/\1/'); do
			im=${inc%%/*}
			case "$inc" in
			*_int.h) [ "$im" = "$m" ] || { echo "$f includes private header $inc"; fail=1; } ;;
			esac
			if [ "$(rank "$im")" -gt "$(rank "$m")" ]; then
				echo "$f ($m) includes higher module header $inc"; fail=1
			fi
		done
	done
done
for f in $(find tests -name '*.c'); do
	for inc in $(grep -hoE '^#include "[a-z]+/[a-z_]+_int\.h"' "$f" | sed 's/.*"\(.*\)"/\1/'); do
		m=${inc%%/*}
		# Integration tests drive the node's binaries and may set up with its internals (a
		# genesis to replay); test_p2p.c's hostile peers craft frames with net's own codecs.
		case "$f" in tests/"$m"/*|tests/fuzz/*|tests/bench/*) ;;
		tests/integration/*) case "$inc" in node/*|net/net_int.h) ;; *) echo "$f includes private $inc"; fail=1 ;; esac ;;
		*) echo "$f includes private $inc"; fail=1 ;; esac
	done
done
[ $fail = 0 ] && echo "layout ok"
exit $fail

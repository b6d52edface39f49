#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The layering of the daemon (docs/architecture.md, "Modules and their layers"): each folder
# under daemon/ (and kernel-iface/) may include headers only of the folders, or the single
# headers, listed for it below; a folder may always include its own. And no file outside
# daemon/agent/ includes agent/agent.h: modules report up through callbacks given at _new,
# never by calling the agent. And only daemon/netstack/ includes lwIP's headers. Prints every include that breaks a rule; exit status 1 if any.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1

# folder: what it may include (a folder name, or folder/header.h for one header alone).
declare -A ALLOWED=(
	[core]=""
	[trust]="core crypto"
	[proto]="core trust/identity.h"
	[crypto]="core proto trust/identity.h"
	[store]="core trust"
	[session]="core crypto proto"
	[overlay]="core"
	[kernel-iface]="core policy/policy.h rendezvous/purpose.h"
	[path]="core"
	[control]="core crypto proto trust"
	[peer]="core crypto overlay path session trust"
	[link]="control core crypto path peer proto session"
	[dataplane]="core kernel-iface overlay path peer proto session"
	[domains]="control core crypto proto store trust"
	[home]="control core crypto proto trust"
	[server]="control core crypto proto store trust"
	[rendezvous]="core crypto proto store trust"
	[relay]="core crypto proto"
	[direct]="core crypto proto"
	[hooks]="core"
	[policy]="core trust/identity.h rendezvous/purpose.h"
	[appapi]="core trust/identity.h rendezvous/purpose.h"
	[netstack]="core"
	[socks]="core trust/identity.h"
	[forward]="core trust/identity.h"
	[agent]="appapi control core crypto dataplane domains forward home hooks kernel-iface link netstack overlay path peer policy proto relay rendezvous direct session socks store trust"
)

bad=0
checked=0
while IFS= read -r file; do
	case $file in
	kernel-iface/*) folder=kernel-iface ;;
	daemon/*) folder=${file#daemon/}; folder=${folder%%/*} ;;
	esac
	if [[ -z ${ALLOWED[$folder]+set} ]]; then
		echo "$file: folder '$folder' has no entry in scripts/check-layers.sh (add one)"
		bad=1
		continue
	fi
	checked=$((checked + 1))
	while IFS= read -r inc; do
		dep=${inc%%/*}
		[[ $inc == */* ]] || continue # a header of the same folder, included by name
		[[ $dep == "$folder" ]] && continue
		ok=0
		for allowed in ${ALLOWED[$folder]}; do
			if [[ $allowed == "$dep" || $allowed == "$inc" ]]; then
				ok=1
				break
			fi
		done
		if [[ $ok -eq 0 ]]; then
			echo "$file: includes $inc, but $folder may include only: ${ALLOWED[$folder]:-nothing}"
			bad=1
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done < <(git ls-files -co --exclude-standard -- 'daemon/*.c' 'daemon/*.h' 'kernel-iface/*.c' \
	'kernel-iface/*.h')

# Only netstack/ sees lwIP (STYLE §4): its headers are on no other file's include path, and no
# other file names them.
while IFS= read -r hit; do
	echo "$hit: only daemon/netstack/ may include lwIP's headers"
	bad=1
done < <(git grep -lE '^#include <(lwip|netif|arch)/' -- '*.c' '*.h' ':!daemon/netstack/' 2>/dev/null)

# The agent is the top: nothing else includes its header, not even the tools or the tests.
while IFS= read -r hit; do
	echo "$hit: only daemon/agent/ may include agent/agent.h"
	bad=1
done < <(git grep -l '^#include "agent/agent.h"' -- '*.c' '*.h' ':!daemon/agent/' 2>/dev/null)

echo "$checked files checked against ${#ALLOWED[@]} folders' rules"
exit "$bad"

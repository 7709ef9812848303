# Stackwire's masterless puppet apply on a bare-metal host (activities/puppet.ts), run by remote-run.sh
# in the run's folder: site.pp, hiera.yaml and data/ come with it, and modules/ when the operator's
# modules are used; a file named noop asks for --noop; state_parent names the folder (under the SSH
# user's home) the component's state folder goes in. Prints puppet's summary after a marker line.
# Exit codes: puppet's (--detailed-exitcodes); 97 when puppet is not installed on the host.
d=$STACKWIRE_RUN_DIR
p=$(command -v puppet 2>/dev/null || echo /opt/puppetlabs/bin/puppet)
[ -x "$p" ] || {
  echo "stackwire: puppet is not installed on $(hostname) (Debian's puppet-agent, or Puppet's own package)" >&2
  exit 97
}
set -- apply --detailed-exitcodes --color false --vardir "$d/var" --confdir "$d/conf" --codedir "$d/code" \
  --publicdir "$d/var/public" --rundir "$d/var/run" --logdir "$d/var/log" \
  --hiera_config "$d/hiera.yaml" --lastrunfile "$d/summary.yaml" --logdest console
mp=
for m in "$d"/modules/m*; do
  [ -d "$m" ] && mp="$mp${mp:+:}$m"
done
[ -n "$mp" ] && set -- "$@" --modulepath "$mp"
[ -f "$d/noop" ] && set -- "$@" --noop
mkdir -p "$d/var" "$d/conf" "$d/code"
# The folder above the component's state folder (a path under the SSH user's home), as on a worker.
if [ -f "$d/state_parent" ]; then
  IFS= read -r sp <"$d/state_parent" && mkdir -p "$HOME/$sp"
fi
FACTER_stackwire_home=$HOME "$p" "$@" "$d/site.pp"
rc=$?
echo "@@stackwire: puppet summary@@"
cat "$d/summary.yaml" 2>/dev/null
exit $rc

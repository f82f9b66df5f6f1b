# Sourced by the scripts that build a test tool from its Go module (build-helm.sh, ../prom-harness/build.sh).
#   go_tool NAME VERSION OVERRIDE_VAR CMD...
# prints the path of NAME built at VERSION, cached in ${XDG_CACHE_HOME:-~/.cache}/mei/NAME/VERSION/NAME (a
# binary already there is not rebuilt; the variable named OVERRIDE_VAR names one to use instead). CMD builds
# it to "$GO_TOOL_OUT". Progress goes to stderr, the path is the last line on stdout.
go_tool() {
  local name=$1 version=$2 override=$3
  shift 3
  if [[ -n "${!override:-}" ]]; then
    [[ -x "${!override}" ]] || { echo "$override=${!override} is not an executable" >&2; return 1; }
    echo "${!override}"
    return 0
  fi
  local out="${XDG_CACHE_HOME:-$HOME/.cache}/mei/$name/$version"
  if [[ -x "$out/$name" ]]; then
    echo "$out/$name"
    return 0
  fi
  command -v go >/dev/null || { echo "go is not installed (needed to build $name $version)" >&2; return 1; }
  mkdir -p "$out"
  # One build at a time: parallel test files may ask for the tool together.
  exec 9>"$out/.build.lock"
  flock 9
  if [[ ! -x "$out/$name" ]]; then
    echo "building $name $version from its Go module (takes minutes the first time) ..." >&2
    local start
    start=$(date +%s)
    # Low priority: the machine is shared. GOTOOLCHAIN=local never downloads another Go.
    GO_TOOL_OUT="$out/$name.tmp" GOTOOLCHAIN=local CGO_ENABLED=0 nice -n 10 "$@"
    mv "$out/$name.tmp" "$out/$name"
    echo "built $name in $(($(date +%s) - start))s" >&2
  fi
  echo "$out/$name"
}

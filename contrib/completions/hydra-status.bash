# bash completion for hydra-status                         -*- shell-script -*-
# Installed as share/bash-completion/completions/hydra-status.
# tests/integration/test_completions.py calls _hydra_status with COMP_WORDS
# set, and test_docs_drift.py checks these lists against each --help.

_hydra_status_commands="lookup sync gate info record forget config history bisect evals report snapshot"
_hydra_status_global_opts="--db --url --config --json -v --verbose -h --help --version"
_hydra_status_lookup_opts="--all --stdin --job --jobset --local-ttl --stale-after"
_hydra_status_sync_opts="--jobset -q --quiet --max-evals --max-requests --min-interval
    --max-in-flight --max-tries --backoff-ceiling --connect-timeout --timeout --by-id-max
    --recheck-interval --eval-builds-retry --insecure --max-body --from --no-verify
    --trusted-keys --publish --secret-key-file --snapshot-deltas"
_hydra_status_gate_opts="--policy --strict --store-root --from-dry-run --local-ttl"
_hydra_status_info_opts=""
_hydra_status_record_opts="--failed --log --reason"
_hydra_status_forget_opts="--all"
_hydra_status_config_opts=""
_hydra_status_config_subcommands="show get"
_hydra_status_history_opts="--job --jobset --input --limit"
_hydra_status_bisect_opts="--job --jobset --input --repo"
_hydra_status_evals_opts="--jobset --rev --input --repo --limit"
_hydra_status_report_opts="--jobset --eval --against --html"
_hydra_status_snapshot_opts="--secret-key-file --snapshot-deltas"
_hydra_status_snapshot_subcommands="publish keygen"
# Options that take a value (the next word is that value, not an argument).
_hydra_status_value_opts="--db --url --config --job --jobset --local-ttl --stale-after
    --max-evals --max-requests --min-interval --max-in-flight --max-tries --backoff-ceiling
    --connect-timeout --timeout --by-id-max --recheck-interval --eval-builds-retry --max-body
    --policy --store-root --from-dry-run --failed --log --reason --input --limit --repo --rev
    --eval --against --html --from --trusted-keys --publish --secret-key-file --snapshot-deltas"

# Runs hydra-status with the --db and --config given on the command line so
# far, so that jobsets come from the index the command will use.
_hydra_status_run() {
    local bin=${words[0]} i
    local -a pass=()
    for ((i = 1; i < ${#words[@]} - 1; i++)); do
        case ${words[i]} in
        --db | --config) pass+=("${words[i]}" "${words[i + 1]}") ;;
        esac
    done
    # ~ is not expanded inside words; only a plain command name or path runs.
    command -v -- "$bin" >/dev/null 2>&1 || bin=hydra-status
    "$bin" "${pass[@]}" "$@" 2>/dev/null
}

# Store paths: /nix/store/ first, then the files under it (or any file when
# the word is a path elsewhere); with a pattern, only matching files and
# directories.
_hydra_status_paths() {
    local pattern=$1
    if [[ -z $cur ]]; then
        COMPREPLY=(/nix/store/)
        compopt -o nospace 2>/dev/null
        return
    fi
    compopt -o filenames 2>/dev/null
    if [[ -n $pattern ]]; then
        COMPREPLY=($(compgen -f -X "!$pattern" -- "$cur") $(compgen -d -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

# Words with ':' (PROJECT:JOBSET): when ':' breaks words, bash replaces only
# the part after the last ':', so the completions must not repeat the rest.
_hydra_status_ltrim_colon() {
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local prefix=${cur%"${cur##*:}"} i
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
        done
    fi
}

_hydra_status() {
    local cur prev words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n : cur prev words cword
    else
        # Without the bash-completion package: glue the pieces of words that
        # ':' in COMP_WORDBREAKS cut apart (nixpkgs : trunk).
        local i j=-1 glue=0 piece
        words=()
        cword=0
        for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
            piece=${COMP_WORDS[i]}
            if ((j >= 0)) && [[ $piece == : || $glue == 1 ]]; then
                words[j]+=$piece
            else
                words[++j]=$piece
            fi
            [[ $piece == : ]] && glue=1 || glue=0
            ((i == COMP_CWORD)) && cword=$j
        done
        cur=${words[cword]}
        prev=${words[cword - 1]}
    fi
    COMPREPLY=()

    # The command word: the first word that is not an option or its value.
    local command="" i=1 word
    while ((i < cword)); do
        word=${words[i]}
        if [[ $word == -* ]]; then
            [[ " ${_hydra_status_value_opts//$'\n'/ } " == *" $word "* ]] && ((i++))
        elif [[ -z $command ]]; then
            command=$word
            [[ " $_hydra_status_commands jobsets " == *" $word "* ]] || command=lookup
            if [[ $command == config || $command == snapshot ]]; then
                local sub=${words[i + 1]}
                ((i + 1 < cword)) && command="$command $sub"
            fi
        fi
        ((i++))
    done

    # The value of an option.
    case $prev in
    --db | --config | --log | --html | --secret-key-file)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    --store-root | --repo | --publish)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -d -- "$cur"))
        return
        ;;
    --from-dry-run)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
        [[ -z $cur || $cur == - ]] && COMPREPLY+=(-)
        return
        ;;
    --url)
        COMPREPLY=($(compgen -W "https://hydra.nixos.org" -- "$cur"))
        _hydra_status_ltrim_colon
        return
        ;;
    --jobset)
        COMPREPLY=($(compgen -W "$(_hydra_status_run jobsets --complete)" -- "$cur"))
        _hydra_status_ltrim_colon
        return
        ;;
    --policy)
        COMPREPLY=($(compgen -W "fail warn" -- "$cur"))
        return
        ;;
    --failed)
        _hydra_status_paths "*.drv"
        return
        ;;
    --input | --limit | --rev | --eval | --against)
        return # names and ids from the index: nothing cheap to offer
        ;;
    --job | --reason | --local-ttl | --stale-after | --max-evals | --max-requests | \
        --min-interval | --max-in-flight | --max-tries | --backoff-ceiling | \
        --connect-timeout | --timeout | --by-id-max | --recheck-interval | \
        --eval-builds-retry | --max-body | --from | --trusted-keys | --snapshot-deltas)
        return # free text: nothing sensible to offer
        ;;
    esac

    local opts=$_hydra_status_global_opts
    case $command in
    lookup) opts+=" $_hydra_status_lookup_opts" ;;
    sync) opts+=" $_hydra_status_sync_opts" ;;
    gate) opts+=" $_hydra_status_gate_opts" ;;
    info) opts+=" $_hydra_status_info_opts" ;;
    record) opts+=" $_hydra_status_record_opts" ;;
    forget) opts+=" $_hydra_status_forget_opts" ;;
    config*) opts+=" $_hydra_status_config_opts" ;;
    history) opts+=" $_hydra_status_history_opts" ;;
    bisect) opts+=" $_hydra_status_bisect_opts" ;;
    evals) opts+=" $_hydra_status_evals_opts" ;;
    report) opts+=" $_hydra_status_report_opts" ;;
    snapshot*) opts+=" $_hydra_status_snapshot_opts" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    case $command in
    "")
        if [[ $cur == /* ]]; then
            _hydra_status_paths "" # a store path as the first argument is a lookup
        else
            COMPREPLY=($(compgen -W "$_hydra_status_commands" -- "$cur"))
        fi
        ;;
    lookup | history) _hydra_status_paths "" ;;
    gate | forget) _hydra_status_paths "*.drv" ;;
    config) COMPREPLY=($(compgen -W "$_hydra_status_config_subcommands" -- "$cur")) ;;
    snapshot) COMPREPLY=($(compgen -W "$_hydra_status_snapshot_subcommands" -- "$cur")) ;;
    "snapshot publish") COMPREPLY=($(compgen -d -- "$cur")) ;;
    "config get") COMPREPLY=($(compgen -W "$(_hydra_status_run config keys)" -- "$cur")) ;;
    esac
}

complete -F _hydra_status hydra-status

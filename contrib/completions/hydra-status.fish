# fish completion for hydra-status; installed as
# share/fish/vendor_completions.d/hydra-status.fish.
# tests/integration/test_docs_drift.py checks the options below against each
# command's --help; test_completions.py runs `complete -C`.

# The command word of the command line being completed, or nothing.
function __hydra_status_command
    set -l words (commandline -opc)
    set -e words[1]
    set -l skip 0
    for word in $words
        if test $skip = 1
            set skip 0
            continue
        end
        switch $word
            case --db --url --config
                set skip 1
            case '-*'
            case lookup sync gate info record forget config history bisect evals report snapshot jobsets
                echo $word
                return
            case '*'
                echo lookup # a store path as the first argument is a lookup
                return
        end
    end
end

function __hydra_status_using
    set -l command (__hydra_status_command)
    test "$command" = "$argv[1]"
end

function __hydra_status_no_command
    set -l command (__hydra_status_command)
    test -z "$command"
end

function __hydra_status_config_needs_subcommand
    set -l words (commandline -opc)
    __hydra_status_using config; and test "$words[-1]" = config
end

function __hydra_status_config_after_get
    set -l words (commandline -opc)
    __hydra_status_using config; and test "$words[-1]" = get
end

# Runs hydra-status with the --db and --config of the command line.
function __hydra_status_run
    set -l words (commandline -opc)
    set -l pass
    set -l n (count $words)
    for i in (seq 2 (math $n - 1))
        switch $words[$i]
            case --db --config
                set -a pass $words[$i] $words[(math $i + 1)]
        end
    end
    hydra-status $pass $argv 2>/dev/null
end

# Store paths: /nix/store/ to start with, then files; $argv[1] = drv keeps
# .drv files and directories only.
function __hydra_status_paths
    set -l token (commandline -ct)
    if test -z "$token"
        echo /nix/store/
        return
    end
    for path in $token*
        if test -d $path
            echo $path/
        else if test "$argv[1]" != drv; or string match -q '*.drv' -- $path
            echo $path
        end
    end
end

complete -c hydra-status -f

# Global options.
complete -c hydra-status -l db -r -F -d 'the index'
complete -c hydra-status -l url -x -a 'https://hydra.nixos.org' -d 'the Hydra instance'
complete -c hydra-status -l config -r -F -d 'the user config file'
complete -c hydra-status -l json -d 'machine output: JSON Lines on stdout'
complete -c hydra-status -s v -l verbose -d 'more on stderr; repeatable'
complete -c hydra-status -s h -l help -d 'show help'
complete -c hydra-status -l version -d 'show the version'

# Commands, or a store path (an implicit lookup).
complete -c hydra-status -n '__hydra_status_no_command; and string match -q "/*" -- (commandline -ct)' -a '(__hydra_status_paths)'
complete -c hydra-status -n __hydra_status_no_command -a lookup -d 'status of drv paths or basenames, output paths, hashes'
complete -c hydra-status -n __hydra_status_no_command -a sync -d 'pull new Hydra evaluations into the local index'
complete -c hydra-status -n __hydra_status_no_command -a gate -d 'check a .drv and its whole closure before building it'
complete -c hydra-status -n __hydra_status_no_command -a info -d 'what the index holds, per jobset'
complete -c hydra-status -n __hydra_status_no_command -a record -d 'remember a local build failure'
complete -c hydra-status -n __hydra_status_no_command -a forget -d 'drop local failure records'
complete -c hydra-status -n __hydra_status_no_command -a config -d 'every setting, its value and where it came from'
complete -c hydra-status -n __hydra_status_no_command -a history -d "a job's builds eval by eval; where its status changed"
complete -c hydra-status -n __hydra_status_no_command -a bisect -d 'the evals and revisions between which a job broke'
complete -c hydra-status -n __hydra_status_no_command -a evals -d "a jobset's evals and their inputs; --rev SHA finds one"
complete -c hydra-status -n __hydra_status_no_command -a report -d 'what broke and what got fixed since the eval before'
complete -c hydra-status -n __hydra_status_no_command -a snapshot -d 'publish the index as signed files for sync --from'

# lookup
complete -c hydra-status -n '__hydra_status_using lookup' -a '(__hydra_status_paths)'
complete -c hydra-status -n '__hydra_status_using lookup' -l all -d 'list every known build of each key, newest first'
complete -c hydra-status -n '__hydra_status_using lookup' -l stdin -d 'read keys from standard input, one per line'
complete -c hydra-status -n '__hydra_status_using lookup' -l job -x -d 'answer for the latest build of this job'
complete -c hydra-status -n '__hydra_status_using lookup' -l jobset -x -a '(__hydra_status_run jobsets --complete)' -d 'the jobset of --job'
complete -c hydra-status -n '__hydra_status_using lookup' -l local-ttl -x -d 'how long a local failure record counts'
complete -c hydra-status -n '__hydra_status_using lookup' -l stale-after -x -d "warn when a jobset's last sync is older"

# sync
complete -c hydra-status -n '__hydra_status_using sync' -l jobset -x -a '(__hydra_status_run jobsets --complete)' -d 'a jobset to sync; repeatable'
complete -c hydra-status -n '__hydra_status_using sync' -s q -l quiet -d 'no progress or summary on stderr'
complete -c hydra-status -n '__hydra_status_using sync' -l max-evals -x -d 'newest evals ingested on a first sync'
complete -c hydra-status -n '__hydra_status_using sync' -l max-requests -x -d 'request budget of one sync run'
complete -c hydra-status -n '__hydra_status_using sync' -l min-interval -x -d 'least time between request starts'
complete -c hydra-status -n '__hydra_status_using sync' -l max-in-flight -x -d 'most requests in flight'
complete -c hydra-status -n '__hydra_status_using sync' -l max-tries -x -d 'tries of one request on transient errors'
complete -c hydra-status -n '__hydra_status_using sync' -l backoff-ceiling -x -d 'longest backoff between tries'
complete -c hydra-status -n '__hydra_status_using sync' -l connect-timeout -x -d 'connection timeout'
complete -c hydra-status -n '__hydra_status_using sync' -l timeout -x -d 'total timeout of one request'
complete -c hydra-status -n '__hydra_status_using sync' -l by-id-max -x -d 'most builds of an eval fetched one by one'
complete -c hydra-status -n '__hydra_status_using sync' -l recheck-interval -x -d 'how often the newest eval is re-read'
complete -c hydra-status -n '__hydra_status_using sync' -l eval-builds-retry -x -d 'how long evals as large as a failed /eval/<id>/builds go by id'
complete -c hydra-status -n '__hydra_status_using sync' -l insecure -d 'do not verify TLS certificates'
complete -c hydra-status -n '__hydra_status_using sync' -l max-body -x -d 'largest answer accepted'
complete -c hydra-status -n '__hydra_status_using sync' -l from -x -d 'sync from a snapshot instead of Hydra'
complete -c hydra-status -n '__hydra_status_using sync' -l no-verify -d 'with --from file://, do not check the signature'
complete -c hydra-status -n '__hydra_status_using sync' -l trusted-keys -x -d 'public keys whose snapshots are accepted'
complete -c hydra-status -n '__hydra_status_using sync' -l publish -x -a '(__fish_complete_directories)' -d 'publish a snapshot after the sync'
complete -c hydra-status -n '__hydra_status_using sync' -l secret-key-file -r -F -d 'the key that signs published snapshots'
complete -c hydra-status -n '__hydra_status_using sync' -l snapshot-deltas -x -d 'most deltas a published manifest names'

# gate
complete -c hydra-status -n '__hydra_status_using gate' -a '(__hydra_status_paths drv)'
complete -c hydra-status -n '__hydra_status_using gate' -l policy -x -a 'fail warn' -d 'fail: exit 1 on a permanent failure; warn: exit 0'
complete -c hydra-status -n '__hydra_status_using gate' -l strict -d 'transient failures exit 4'
complete -c hydra-status -n '__hydra_status_using gate' -l store-root -x -a '(__fish_complete_directories)' -d 'read /nix/store/x from DIR/nix/store/x'
complete -c hydra-status -n '__hydra_status_using gate' -l from-dry-run -r -F -d 'check what nix-build --dry-run will build'
complete -c hydra-status -n '__hydra_status_using gate' -l local-ttl -x -d 'how long a local failure record counts'

# record
complete -c hydra-status -n '__hydra_status_using record' -l failed -x -a '(__hydra_status_paths drv)' -d 'the drv that failed'
complete -c hydra-status -n '__hydra_status_using record' -l log -r -F -d 'its build log'
complete -c hydra-status -n '__hydra_status_using record' -l reason -x -d 'why it failed'

# forget
complete -c hydra-status -n '__hydra_status_using forget' -a '(__hydra_status_paths drv)'
complete -c hydra-status -n '__hydra_status_using forget' -l all -d 'forget every local failure record'

# history
complete -c hydra-status -n '__hydra_status_using history' -a '(__hydra_status_paths)'
complete -c hydra-status -n '__hydra_status_using history' -l job -x -d 'the job'
complete -c hydra-status -n '__hydra_status_using history' -l jobset -x -a '(__hydra_status_run jobsets --complete)' -d 'the jobset of --job, or of KEY'
complete -c hydra-status -n '__hydra_status_using history' -l input -x -d 'the eval input whose revisions to show'
complete -c hydra-status -n '__hydra_status_using history' -l limit -x -d 'show at most N evals'

# bisect
complete -c hydra-status -n '__hydra_status_using bisect' -l job -x -d 'the job that broke'
complete -c hydra-status -n '__hydra_status_using bisect' -l jobset -x -a '(__hydra_status_run jobsets --complete)' -d 'its jobset'
complete -c hydra-status -n '__hydra_status_using bisect' -l input -x -d 'the eval input to bisect'
complete -c hydra-status -n '__hydra_status_using bisect' -l repo -x -a '(__fish_complete_directories)' -d 'a git checkout of the input'

# evals
complete -c hydra-status -n '__hydra_status_using evals' -l jobset -x -a '(__hydra_status_run jobsets --complete)' -d 'the jobset'
complete -c hydra-status -n '__hydra_status_using evals' -l rev -x -d 'the evals built from this revision'
complete -c hydra-status -n '__hydra_status_using evals' -l input -x -d 'the input --rev is a revision of'
complete -c hydra-status -n '__hydra_status_using evals' -l repo -x -a '(__fish_complete_directories)' -d 'a git checkout of the input'
complete -c hydra-status -n '__hydra_status_using evals' -l limit -x -d 'list at most N evals'

# report
complete -c hydra-status -n '__hydra_status_using report' -l jobset -x -a '(__hydra_status_run jobsets --complete)' -d 'the jobset'
complete -c hydra-status -n '__hydra_status_using report' -l eval -x -d 'the eval to report'
complete -c hydra-status -n '__hydra_status_using report' -l against -x -d 'the eval to compare it with'
complete -c hydra-status -n '__hydra_status_using report' -l html -r -F -d 'write the report as an HTML page'

# snapshot
complete -c hydra-status -n '__hydra_status_using snapshot' -l secret-key-file -r -F -d 'the key that signs published snapshots'
complete -c hydra-status -n '__hydra_status_using snapshot' -l snapshot-deltas -x -d 'most deltas a published manifest names'
complete -c hydra-status -n '__hydra_status_using snapshot; and not __fish_seen_subcommand_from publish keygen' -a 'publish keygen'

# config
complete -c hydra-status -n '__hydra_status_config_needs_subcommand' -a show -d 'every setting and its origin'
complete -c hydra-status -n '__hydra_status_config_needs_subcommand' -a get -d 'the value of one setting'
complete -c hydra-status -n '__hydra_status_config_after_get' -a '(__hydra_status_run config keys)'

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand: its name (one word, or a group and a word),
// what it does, how it is called, and the function that runs it.
type command struct {
	name    string
	summary string
	usage   string // the arguments after "zkshare NAME", one line per form
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists every subcommand, in the order help shows them.
func commands() []command {
	return []command{
		{"keys setup", "make development (single-party) circuit keys", `--keys DIR [--aggregate]`, cmdKeysSetup},
		{"ceremony init", "start a multi-party setup ceremony: the plan of circuits and contributors", `--dir D --participants ID:HEXPUBKEY|IDENTITY.json,... [--circuits subject,exists,absent|all] [--beacon-height N] [--origin NAME]
    [--server URL --token-file ADMIN.token]   (name that ledger in the plan, and open the ceremony on it)`, cmdCeremonyInit},
		{"ceremony contribute", "make a ceremony's next contribution, as its planned participant", `--dir D --identity FILE [--server URL]`, cmdCeremonyContribute},
		{"ceremony verify", "check every contribution of a ceremony, and the ledger's record of it", `--dir D [--server URL]`, cmdCeremonyVerify},
		{"ceremony finalize", "seal a complete ceremony with its beacon and write its keys", `--dir D (--beacon HEX | --beacon-height N --server URL [--identity FILE]) --keys OUT   (--identity: attest the keys on the ledger)`, cmdCeremonyFinalize},
		{"keys show", "show where keys came from (setup or ceremony, contributors) and the ledger's circuit registry", `[--keys DIR] [--server URL] [--json]`, cmdKeysShow},
		{"serve", "run a node: ledger, holder store and the Connect API on one port", `--data DIR --keys DIR [--addr 127.0.0.1:8080] [--tls-cert F --tls-key F] [--encryption-key-file FILE]
--consortium DIR/orgK --keys DIR [--addr ...]   (one organisation's node)`, cmdServe},
		{"consortium init", "lay out a CometBFT consortium, one validator per organisation", `[--validators 4] [--out DIR] [--base-port 26656] [--dev]`, cmdConsortiumInit},
		{"participant add", "register a participant (admin) and print its token", `--server URL --token ADMIN-TOKEN --id ID [--role consumer]`, cmdParticipantAdd},
		{"collection create", "register a collection with its schema", `(--data DIR | --server URL --token T) --schema FILE [--name NAME]
--server URL --token T --schema FILE [--name NAME] --device-fed   (its readings come from registered devices)`, cmdCollectionCreate},
		{"collection show", "show a collection: its anchored state and, on its holder's node, what proofs read and what recovery did", `--server URL --collection NAME [--json]`, cmdCollectionShow},
		{"collection confirmers", "propose a collection's M-of-N anchor confirmers", `--server URL --token-file HOLDER.token --collection NAME --confirmers a,b --required N`, cmdCollectionConfirmers},
		{"governance propose", "propose a governance action (M governors approve it)", `--server URL --token-file ADMIN.token
    (--register ID --role R [--public-key HEX | --out FILE] | --revoke ID
    | --rotate ID --public-key HEX | --rotate-consensus ID --consensus-key HEX
    | --circuit NAME --keys DIR | --retire-circuit VK_SHA256) [--consensus-key HEX] [--json]`, cmdGovernancePropose},
		{"governance approve", "approve an open governance proposal", `--server URL --token-file ADMIN.token PROPOSAL-ID [--json]`, cmdGovernanceApprove},
		{"governance list", "list open governance proposals", `--server URL --token-file T [--json]`, cmdGovernanceList},
		{"device keygen", "make a device (sensor) key: the private key to a file, the public key printed", `--out FILE`, cmdDeviceKeygen},
		{"device register", "register a device that feeds a device-fed collection, with its consent", `--server URL --token T --id ID (--key FILE | --public HEX --proof HEX) --collection NAME [--interval D] [--model M] [--location L]`, cmdDeviceRegister},
		{"device consent", "sign a device's consent to its registration (for register --public)", `--key FILE --id ID --collection HOLDER/NAME [--interval D]`, cmdDeviceConsent},
		{"device endorse", "vouch, as this node's admin, for a device another holder operates", `--server URL --token T --id ID`, cmdDeviceEndorse},
		{"device revoke", "stop a device's readings", `--server URL --token T --id ID`, cmdDeviceRevoke},
		{"device list", "list devices with their counters, readings and gaps", `--server URL [--collection NAME]`, cmdDeviceList},
		{"device simulate", "drive simulated cold-chain sensors, and check that forged readings are refused", `--server URL --token T --collection NAME [--devices N] [--rate R]
    [--duration D | --readings K] [--bad-lot LOT] [--prefix sim]`, cmdDeviceSimulate},
		{"commit", "commit records (CSV or JSONL) and anchor the new root", `(--data DIR | --server URL --token T) --collection NAME FILE.csv|FILE.jsonl`, cmdCommit},
		{"prove", "answer a question about a subject's record, whether some record matches, or that a key has none", `(--data DIR --keys DIR | --server URL --token T) --collection NAME
    (--subject KEY [--blind HEX] | --exists) --query 'income <= 30000 AND ...' [--nonce HEX] [--out FILE]
(--data DIR --keys DIR | --server URL --token T) --collection NAME --absent KEY [--blind HEX] [--nonce HEX] [--out FILE]
--receipt FILE --keys DIR --query '...' [--nonce HEX] [--out FILE]   (a subject, offline)`, cmdProve},
		{"receipt issue", "issue a subject their record receipt", `--server URL --token T --collection NAME --subject KEY --out FILE`, cmdReceiptIssue},
		{"verify", "check a bundle against a ledger: a node's, or offline against a trusted ledger key", `--keys DIR (--server URL | --ledger-key VKEY [--holder-key HEX]) [--holder ID] [--kind subject|exists|absent]
    [--collection HOLDER/NAME] [--query '...'] [--subject KEY --blind HEX | --absent KEY --blind HEX] [--nonce HEX] [--json] BUNDLE`, cmdVerify},
		{"aggregate", "prove an aggregate over every record of a collection", `--server URL --token T --collection NAME --field F --query '...'
    [--threshold "count == 0"] [--nonce HEX] [--out FILE]`, cmdAggregate},
		{"verify-aggregate", "check an aggregate bundle against a ledger", `--keys DIR (--server URL | --ledger-key VKEY) --bundle FILE [--holder ID] [--collection HOLDER/NAME] [--query '...'] [--field F]
    [--mode reveal|threshold] [--threshold "count == 0"] [--nonce HEX]`, cmdVerifyAggregate},
		{"policy set", "set who may ask what about a collection", `--server URL --token T --collection NAME [--consumer ID|*] [--kinds subject,exists,absent,aggregate]
    [--templates "income <=,age >="] [--rate PER-MINUTE]
    [--aggregate-fields F,G|* --aggregate-modes reveal,threshold --min-group K]`, cmdPolicySet},
		{"audit", "list audit entries: who asked what, and when", `--server URL --token T (--collection NAME | --consumer ID)`, cmdAudit},
		{"audit check", "check that an audit receipt opens its ledger entry", `--receipt FILE --server URL [--ledger-key VKEY]`, cmdAuditCheck},
		{"demo", "run the benefits and cold-chain scenarios end to end on a local node", `[--dataset DIR] [--supplier DIR [--shipments N]] [--keys DIR]`, cmdDemo},
		{"ledger init", "create a node's data directory and ledger (serve then starts on it)", `--data DIR [--origin NAME] [--dev]`, cmdLedgerInit},
		{"ledger verify", "re-check every block, signature and proof of a ledger", `--data DIR`, cmdLedgerVerify},
		{"ledger show", "print a ledger's tip, checkpoint key, blocks or a transaction", `--data DIR [--blocks N] [--tx HASH]`, cmdLedgerShow},
		{"ledger watch", "follow a node's blocks, checking each checkpoint's consistency", `--server URL [--ledger-key VKEY] [--interval 2s] [--count N]`, cmdLedgerWatch},
		{"store keygen", "make a key file that encrypts a node's holder store at rest", `--out FILE`, cmdStoreKeygen},
		{"store rotate-key", "replace the holder store's encryption key, with the node stopped", `--data DIR --encryption-key-file OLD --new-key-file NEW`, cmdStoreRotateKey},
		{"backup", "write a backup archive of a node: a running one through its API, or a stopped one's directory", `--server URL --token-file ADMIN.token --out FILE [--encryption-key-file F]   (the node goes on serving)
--data DIR --out FILE [--encryption-key-file F]   (a stopped node)`, cmdBackup},
		{"restore", "make a data directory from a backup archive (serve then starts on it)", `--in FILE --data DIR [--encryption-key-file F]   (DIR must not exist, or be empty)`, cmdRestore},
	}
}

const usageHead = `zkshare: prove facts about private records with zero-knowledge proofs

usage: zkshare COMMAND [flags]
       zkshare help COMMAND     (or zkshare COMMAND --help)

commands:
`

const usageTail = `
Collections are named HOLDER/NAME on the ledger: a node qualifies a short --collection (and a
--name) with its holder's id. verify and verify-aggregate pin the full name: a short --collection
is qualified only with --holder. Both verify in this process with the verifying keys of --keys,
reading a node's ledger (--server) or only the bundle's own evidence (--ledger-key: no node is asked).

Flags also come from the environment: --data from ZKSHARE_DATA, --keys from ZKSHARE_KEYS,
--server from ZKSHARE_SERVER, --token from ZKSHARE_TOKEN, --token-file from ZKSHARE_TOKEN_FILE.
Common flags: --log-level debug|info|warn|error, --log-format text|json.
`

// writeUsage prints the whole command list.
func writeUsage(w io.Writer) {
	fprint(w, usageHead)
	for _, c := range commands() {
		fprintf(w, "  %-22s %s\n", c.name, c.summary)
	}
	fprint(w, usageTail)
}

// writeCommandUsage prints one command's forms and summary.
func writeCommandUsage(w io.Writer, c command) {
	for i, line := range strings.Split(c.usage, "\n") {
		switch {
		case i == 0:
			fprintf(w, "usage: zkshare %s %s\n", c.name, line)
		case strings.HasPrefix(line, "    "):
			fprintf(w, "       %s%s\n", strings.Repeat(" ", len(c.name)+8), strings.TrimPrefix(line, "    "))
		default:
			fprintf(w, "       zkshare %s %s\n", c.name, line)
		}
	}
	fprintf(w, "\n%s.\n", strings.ToUpper(c.summary[:1])+c.summary[1:])
	if g := group(c.name); len(g) > 0 {
		fprintln(w, "\nsubcommands:")
		for _, s := range g {
			fprintf(w, "  %-22s %s\n", s.name, s.summary)
		}
	}
}

// lookup finds the command named by the first words of args: a group and a
// word ("ledger init") before a single word ("audit").
func lookup(args []string) (command, []string, bool) {
	cmds := commands()
	if len(args) >= 2 {
		for _, c := range cmds {
			if c.name == args[0]+" "+args[1] {
				return c, args[2:], true
			}
		}
	}
	if len(args) >= 1 {
		for _, c := range cmds {
			if c.name == args[0] {
				return c, args[1:], true
			}
		}
	}
	return command{}, args, false
}

// group lists the commands under a group word ("ledger"), if it is one.
func group(word string) []command {
	var out []command
	for _, c := range commands() {
		if strings.HasPrefix(c.name, word+" ") {
			out = append(out, c)
		}
	}
	return out
}

// help prints help for the named command or group, or the command list.
func help(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		writeUsage(stdout)
		return nil
	}
	if c, rest, ok := lookup(args); ok && len(rest) == 0 {
		writeCommandUsage(stdout, c)
		fprintf(stdout, "\nRun 'zkshare %s --help' for its flags.\n", c.name)
		return nil
	}
	if g := group(args[0]); len(g) > 0 && len(args) == 1 {
		writeGroup(stdout, args[0], g)
		return nil
	}
	return fmt.Errorf("help: unknown command %q (zkshare help lists them)", strings.Join(args, " "))
}

func writeGroup(w io.Writer, word string, g []command) {
	fprintf(w, "usage: zkshare %s SUBCOMMAND [flags]\n\nsubcommands:\n", word)
	for _, c := range g {
		fprintf(w, "  %-22s %s\n", c.name, c.summary)
	}
	fprintf(w, "\nRun 'zkshare %s SUBCOMMAND --help' for its flags.\n", word)
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// run runs the command line args. A command that succeeds but could not
// write all of its output to stdout fails with the write error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	out := &stickyWriter{w: stdout}
	defer func() {
		if werr := out.Err(); werr != nil && err == nil {
			err = fmt.Errorf("write output: %w", werr)
		}
	}()
	return runCommand(ctx, args, out, stderr)
}

// runCommand is run with stdout wrapped.
func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		writeUsage(stderr)
		return errUsage
	}
	if isHelp(args[0]) {
		return help(args[1:], stdout)
	}
	c, rest, ok := lookup(args)
	if ok {
		return c.run(ctx, rest, stdout, stderr)
	}
	if g := group(args[0]); len(g) > 0 {
		if len(args) > 1 && isHelp(args[1]) {
			writeGroup(stdout, args[0], g)
			return nil
		}
		writeGroup(stderr, args[0], g)
		if len(args) == 1 {
			return errUsage
		}
		return fmt.Errorf("unknown command %q: %s has the subcommands above", args[0]+" "+args[1], args[0])
	}
	return fmt.Errorf("unknown command %q (zkshare help lists them)", args[0])
}

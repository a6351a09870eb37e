#!/usr/bin/env bash
# Kerno's one-command install and upgrade: see usage() below, or run `deploy/install.sh --help`.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
NS=kerno
MIN_KERNEL=5.10 # README: What it needs
CERT_DAYS=365
# The image repository the base names (deploy/kustomization.yaml): --image's default.
BASE_IMAGE=$(sed -n 's/^ *newName: *//p' "$HERE/kustomization.yaml")
RENEW_BEFORE_DAYS=30

usage() {
	cat <<EOF
Usage: deploy/install.sh [OPTIONS]

Installs Kerno into the cluster of the current kubectl context, or upgrades it in place when
it is already there, in one command:

    deploy/install.sh --tag v0.1.0

Running it again (with a new --tag, or none) upgrades: the Secrets it created are kept (the
token, the spool keys, Nanobe's certificate while it has more than $RENEW_BEFORE_DAYS days left), and so are the
settings given before (bucket, prefix, region, endpoint, IRSA role, cloud URL, image) unless
new ones are given.

What it does, in order:
  1. Checks the kubectl context: it exists, its API server answers, and you may create
     ClusterRoles and Namespaces.
  2. Checks every node's kernel (status.nodeInfo.kernelVersion) is Linux $MIN_KERNEL or later.
     Preon needs Linux 5.10 and BTF; an older node would run a Preon that exits at start.
  3. Creates the internal CA and Nanobe's certificate with openssl (ECDSA P-256, $CERT_DAYS days,
     names kerno-nanobe, kerno-nanobe.$NS, kerno-nanobe.$NS.svc and
     kerno-nanobe.$NS.svc.cluster.local). The CA's private key is deleted once it has signed:
     no one can mint another certificate it vouches for. Renewal makes a new CA and certificate.
  4. Creates or updates the Secrets (deploy/secrets.yaml): kerno-internal-token (shared
     Preon -> Nanobe token), kerno-ca, kerno-nanobe-tls, kerno-spool-key (one key per role),
     kerno-cloud-token and kerno-s3 (when given). Random values come from openssl rand.
  5. Applies the manifests of deploy/ (kubectl apply --server-side) with the chosen image
     and tag, and the settings below in the kerno-nanobe ConfigMap. The pods restart when a
     Secret or setting changed (a checksum in their template), not otherwise.
  6. Waits for the rollouts of daemonset/preon and deployment/nanobe, then prints their
     status and the pods.

What it creates: Namespace $NS; ServiceAccounts kerno-preon and kerno-nanobe; ClusterRoles
and ClusterRoleBindings kerno-preon and kerno-nanobe (get, list and watch only); ConfigMap
kerno-nanobe; the Secrets above; DaemonSet preon; Deployment nanobe; Service kerno-nanobe
(ClusterIP, Preon -> Nanobe only); NetworkPolicies kerno-default-deny,
kerno-nanobe-from-preon, kerno-preon-egress and kerno-nanobe-egress. Every choice is
explained in deploy/*.yaml. On each node, Preon writes under /sys/fs/bpf/kerno (pinned maps)
and /var/lib/kerno/preon (its spool), nowhere else.

Options:
  --context NAME          kubectl context to install into (default: the current context)
  --image REPO            image repository (default: ghcr.io/kerno-dev/kerno, or the one
                          installed); build it with deploy/Dockerfile
  --tag TAG               image tag (default: this checkout's \`git describe --tags --always\`)
  --bucket NAME           S3 bucket for logs and traces (default: none, Nanobe keeps them under
                          its data directory)
  --prefix PREFIX         key prefix in the bucket (default: kerno)
  --region REGION         the bucket's AWS region
  --s3-endpoint URL       an S3-compatible endpoint instead of AWS (MinIO, GCS, ...)
  --s3-role-arn ARN       IRSA: annotate Nanobe's ServiceAccount with this IAM role instead
                          of storing keys. Without it, static keys are read from the
                          environment: KERNO_S3_ACCESS_KEY_ID and KERNO_S3_SECRET_ACCESS_KEY
                          (never from the command line, where ps would show them)
  --create-bucket         also create the bucket (--bucket, --region) with awscli and your own
                          AWS credentials: public access blocked, SSE-S3 encryption; and a
                          least-privilege IAM policy kerno-BUCKET-writer (s3:PutObject and the
                          multipart actions s3:AbortMultipartUpload and
                          s3:ListMultipartUploadParts, on BUCKET/PREFIX/* only), attached to the
                          --s3-role-arn role when given. Prints the policy it applied.
  --print-iam-policy      print that policy for --bucket and --prefix, and exit (no AWS call)
  --cloud-url URL         Kerno cloud's WebSocket URL (wss://...)
  --cloud-token-file FILE Kerno cloud's API token, read from FILE
  --rotate-certs          make a new CA and certificate even if the current ones are valid
  --skip-kernel-check     install even on nodes older than Linux $MIN_KERNEL
  --timeout SECS          how long to wait for each rollout (default: 300)
  --render                print the manifests that would be applied, with freshly generated
                          Secrets, and exit without contacting any cluster (the output holds
                          the Secrets: do not commit it)
  --uninstall             remove everything listed above (the namespace, its Secrets and the
                          cluster-wide RBAC). Leaves the bucket, and on the nodes the pinned
                          maps (/sys/fs/bpf/kerno) and spool (/var/lib/kerno/preon)
  -h, --help              this help

Needs: kubectl (1.20 or later: kustomize is built in), openssl; awscli for --create-bucket.
Exit codes: 0 done, 1 a step failed, 2 bad usage or a check failed (the message says which).
EOF
}

die() {
	echo "install.sh: $*" >&2
	exit 1
}

bad() {
	echo "install.sh: $*" >&2
	exit 2
}

say() {
	echo "==> $*" >&2
}

# ---- options ----
CONTEXT=""
IMAGE=""
TAG=""
BUCKET=""
PREFIX=""
REGION=""
S3_ENDPOINT=""
S3_ROLE_ARN=""
CLOUD_URL=""
CLOUD_TOKEN_FILE=""
CREATE_BUCKET=0
PRINT_POLICY=0
ROTATE_CERTS=0
SKIP_KERNEL_CHECK=0
TIMEOUT=300
RENDER=0
UNINSTALL=0

parse_args() {
	while [ "$#" -gt 0 ]; do
		case "$1" in
		-h | --help)
			usage
			exit 0
			;;
		--create-bucket) CREATE_BUCKET=1 ;;
		--print-iam-policy) PRINT_POLICY=1 ;;
		--rotate-certs) ROTATE_CERTS=1 ;;
		--skip-kernel-check) SKIP_KERNEL_CHECK=1 ;;
		--render) RENDER=1 ;;
		--uninstall) UNINSTALL=1 ;;
		--context | --image | --tag | --bucket | --prefix | --region | --s3-endpoint | \
			--s3-role-arn | --cloud-url | --cloud-token-file | --timeout)
			[ "$#" -ge 2 ] || bad "$1 needs a value (see --help)"
			set_option "$1" "$2"
			shift
			;;
		*) bad "unknown option '$1' (see --help)" ;;
		esac
		shift
	done
}

set_option() {
	case "$1" in
	--context) CONTEXT=$2 ;;
	--image) IMAGE=$2 ;;
	--tag) TAG=$2 ;;
	--bucket) BUCKET=$2 ;;
	--prefix) PREFIX=$2 ;;
	--region) REGION=$2 ;;
	--s3-endpoint) S3_ENDPOINT=$2 ;;
	--s3-role-arn) S3_ROLE_ARN=$2 ;;
	--cloud-url) CLOUD_URL=$2 ;;
	--cloud-token-file) CLOUD_TOKEN_FILE=$2 ;;
	--timeout) TIMEOUT=$2 ;;
	esac
}

validate_args() {
	case "$TIMEOUT" in
	'' | *[!0-9]*) bad "--timeout takes a number of seconds, not '$TIMEOUT'" ;;
	esac
	if [ -n "$CLOUD_TOKEN_FILE" ] && [ ! -r "$CLOUD_TOKEN_FILE" ]; then
		bad "--cloud-token-file $CLOUD_TOKEN_FILE: cannot read it"
	fi
	if [ -n "$S3_ROLE_ARN" ] && [[ ! "$S3_ROLE_ARN" =~ ^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$ ]]; then
		bad "--s3-role-arn '$S3_ROLE_ARN' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
	fi
	if [ -n "$PREFIX" ] && [[ ! "$PREFIX" =~ ^[A-Za-z0-9!_.*\'()-]+(/[A-Za-z0-9!_.*\'()-]+)*$ ]]; then
		bad "--prefix '$PREFIX': use letters, digits and !_.*'()- in /-separated parts, no leading or trailing /"
	fi
	local setting safe='^[A-Za-z0-9:/._~%?&=+@-]*$'
	for setting in "$BUCKET" "$REGION" "$S3_ENDPOINT" "$CLOUD_URL" "$IMAGE"; do
		[[ "$setting" =~ $safe ]] ||
			bad "'$setting': a bucket, region, URL or image holds only letters, digits and :/._~%?&=+@-"
	done
	if [ -n "$TAG" ] && [[ ! "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
		bad "--tag '$TAG' is not a valid image tag"
	fi
	if [ "$CREATE_BUCKET" = 1 ] || [ "$PRINT_POLICY" = 1 ]; then
		[ -n "$BUCKET" ] || bad "--create-bucket and --print-iam-policy need --bucket"
	fi
	if [ "$CREATE_BUCKET" = 1 ] && [ -z "$REGION" ]; then
		bad "--create-bucket needs --region"
	fi
	if [ -n "${KERNO_S3_ACCESS_KEY_ID:-}" ] && [ -n "$S3_ROLE_ARN" ]; then
		bad "give either --s3-role-arn (IRSA) or KERNO_S3_ACCESS_KEY_ID, not both"
	fi
	if { [ -n "${KERNO_S3_ACCESS_KEY_ID:-}" ] && [ -z "${KERNO_S3_SECRET_ACCESS_KEY:-}" ]; } ||
		{ [ -z "${KERNO_S3_ACCESS_KEY_ID:-}" ] && [ -n "${KERNO_S3_SECRET_ACCESS_KEY:-}" ]; }; then
		bad "set both KERNO_S3_ACCESS_KEY_ID and KERNO_S3_SECRET_ACCESS_KEY, or neither"
	fi
}

need() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || bad "$tool is not installed (see --help: Needs)"
	done
}

# ---- kubectl, always against the chosen context ----
kc() {
	kubectl --context "$CONTEXT" "$@"
}

check_context() {
	local server
	if [ -z "$CONTEXT" ]; then
		CONTEXT=$(kubectl config current-context 2>/dev/null) ||
			bad "kubectl has no current context: pass --context NAME (kubectl config get-contexts)"
	fi
	kubectl config get-contexts "$CONTEXT" >/dev/null 2>&1 ||
		bad "kubectl context '$CONTEXT' does not exist (kubectl config get-contexts)"
	server=$(kubectl config view -o "jsonpath={.clusters[?(@.name==\"$(kubectl config view \
		-o "jsonpath={.contexts[?(@.name==\"$CONTEXT\")].context.cluster}")\")].cluster.server}")
	kc get --raw /version >/dev/null 2>&1 ||
		bad "the API server of context '$CONTEXT' ($server) does not answer: check the context and credentials"
	local what
	for what in "create clusterroles" "create namespaces" "create clusterrolebindings"; do
		# shellcheck disable=SC2086 # "verb resource" is two words on purpose
		[ "$(kc auth can-i $what 2>/dev/null)" = yes ] ||
			bad "context '$CONTEXT' may not $what: install as a cluster administrator"
	done
	say "context $CONTEXT ($server)"
}

# Prints "node kernel" for each Linux node (Preon's nodeSelector) older than MIN_KERNEL.
old_kernels() {
	local min_major=${MIN_KERNEL%.*} min_minor=${MIN_KERNEL#*.}
	kc get nodes -l kubernetes.io/os=linux -o 'jsonpath={range .items[*]}{.metadata.name} {.status.nodeInfo.kernelVersion}{"\n"}{end}' |
		while read -r node kernel; do
			[ -n "$node" ] || continue
			local major minor rest
			IFS=. read -r major minor rest <<<"$kernel"
			minor=${minor%%[!0-9]*}
			if [[ ! "$major" =~ ^[0-9]+$ ]] || [[ ! "$minor" =~ ^[0-9]+$ ]] ||
				[ "$major" -lt "$min_major" ] ||
				{ [ "$major" -eq "$min_major" ] && [ "$minor" -lt "$min_minor" ]; }; then
				echo "$node $kernel"
			fi
		done
}

check_kernels() {
	local count old
	count=$(kc get nodes -l kubernetes.io/os=linux -o name | wc -l)
	[ "$count" -gt 0 ] || bad "the cluster has no Linux nodes (label kubernetes.io/os=linux)"
	old=$(old_kernels)
	if [ -n "$old" ]; then
		echo "install.sh: nodes with a kernel older than Linux $MIN_KERNEL (Preon would exit at start there):" >&2
		printf '    %s\n' "${old//$'\n'/$'\n'    }" >&2
		[ "$SKIP_KERNEL_CHECK" = 1 ] || bad "upgrade those nodes' kernels, or pass --skip-kernel-check"
	fi
	say "$count node(s), kernels Linux $MIN_KERNEL or later${old:+ except the above}"
}

# NetworkPolicies are only enforced by some CNIs: warn when none of the known ones is seen.
check_network_policy_support() {
	if ! kc -n kube-system get pods -o name 2>/dev/null |
		grep -Eq 'calico|cilium|antrea|weave|kube-router|canal|network-policy|anetd'; then
		echo "install.sh: warning: no CNI known to enforce NetworkPolicies (Calico, Cilium, Antrea, ...) found in kube-system; Kerno's policies may not be enforced" >&2
	fi
}

# ---- what an earlier install left: kept across upgrades ----
# Writes the decoded value of Secret $1's key $2 to file $3; fails when absent or empty.
existing_secret() {
	local b64
	[ "$RENDER" = 0 ] || return 1
	b64=$(kc -n "$NS" get secret "$1" -o "jsonpath={.data.${2//./\\.}}" 2>/dev/null) || return 1
	[ -n "$b64" ] || return 1
	base64 -d <<<"$b64" >"$3"
}

existing_config() {
	[ "$RENDER" = 0 ] || return 0
	kc -n "$NS" get configmap kerno-nanobe -o "jsonpath={.data.$1}" 2>/dev/null || true
}

load_previous_settings() {
	[ "$RENDER" = 0 ] || return 0
	kc get namespace "$NS" >/dev/null 2>&1 || return 0
	say "kerno is installed: upgrading in place"
	: "${BUCKET:=$(existing_config KERNO_S3_BUCKET)}"
	: "${PREFIX:=$(existing_config KERNO_S3_PREFIX)}"
	: "${REGION:=$(existing_config KERNO_S3_REGION)}"
	: "${S3_ENDPOINT:=$(existing_config KERNO_S3_ENDPOINT)}"
	: "${CLOUD_URL:=$(existing_config KERNO_CLOUD_URL)}"
	# Static keys given now replace an earlier IRSA role, and the reverse (make_secrets).
	if [ -z "${KERNO_S3_ACCESS_KEY_ID:-}" ]; then
		: "${S3_ROLE_ARN:=$(kc -n "$NS" get serviceaccount kerno-nanobe \
			-o 'jsonpath={.metadata.annotations.eks\.amazonaws\.com/role-arn}' 2>/dev/null || true)}"
	fi
	local image
	image=$(kc -n "$NS" get daemonset preon -o 'jsonpath={.spec.template.spec.containers[0].image}' \
		2>/dev/null || true)
	: "${IMAGE:=${image%:*}}"
}

# ---- secrets ----
# openssl with its messages kept for the one line that says what failed.
ossl() {
	local out
	out=$(openssl "$@" 2>&1 >/dev/null) || die "openssl $1 failed: ${out//$'\n'/ }"
}

random_secret() {
	openssl rand -base64 32 | tr -d '\n' >"$1"
}

# Nanobe's certificate, reused while valid for RENEW_BEFORE_DAYS more days and signed by the
# CA next to it; otherwise a new CA signs a new one and the CA key is deleted.
make_certs() {
	local dir=$1 names
	if [ "$ROTATE_CERTS" = 0 ] &&
		existing_secret kerno-ca ca.crt "$dir/ca.crt" &&
		existing_secret kerno-nanobe-tls tls.crt "$dir/tls.crt" &&
		existing_secret kerno-nanobe-tls tls.key "$dir/tls.key" &&
		openssl x509 -in "$dir/tls.crt" -noout -checkend $((RENEW_BEFORE_DAYS * 86400)) >/dev/null &&
		openssl verify -CAfile "$dir/ca.crt" "$dir/tls.crt" >/dev/null 2>&1; then
		say "keeping Nanobe's certificate (valid until $(openssl x509 -in "$dir/tls.crt" -noout -enddate | cut -d= -f2))"
		return 0
	fi
	names="DNS:kerno-nanobe,DNS:kerno-nanobe.$NS,DNS:kerno-nanobe.$NS.svc,DNS:kerno-nanobe.$NS.svc.cluster.local"
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key"
	ossl req -x509 -new -key "$dir/ca.key" -sha256 -days "$CERT_DAYS" \
		-subj "/O=kerno/CN=kerno internal CA $(date -u +%Y%m%dT%H%M%SZ)" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$dir/ca.crt"
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/tls.key"
	ossl req -new -key "$dir/tls.key" -subj "/O=kerno/CN=kerno-nanobe.$NS.svc" \
		-out "$dir/tls.csr"
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" "subjectAltName=$names" >"$dir/tls.ext"
	ossl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$CERT_DAYS" \
		-extfile "$dir/tls.ext" -out "$dir/tls.crt"
	rm -f "$dir/ca.key" "$dir/tls.csr" "$dir/tls.ext"
	say "created a new internal CA and Nanobe certificate ($CERT_DAYS days; CA key deleted)"
}

make_secrets() {
	local dir=$1
	existing_secret kerno-internal-token token "$dir/token" || random_secret "$dir/token"
	existing_secret kerno-spool-key preon "$dir/spool-preon" || random_secret "$dir/spool-preon"
	existing_secret kerno-spool-key nanobe "$dir/spool-nanobe" || random_secret "$dir/spool-nanobe"
	make_certs "$dir"
	if [ -n "$CLOUD_TOKEN_FILE" ]; then
		tr -d '\n' <"$CLOUD_TOKEN_FILE" >"$dir/cloud-token"
	else
		existing_secret kerno-cloud-token token "$dir/cloud-token" || : >"$dir/cloud-token"
	fi
	if [ -n "${KERNO_S3_ACCESS_KEY_ID:-}" ]; then
		printf '%s' "$KERNO_S3_ACCESS_KEY_ID" >"$dir/s3-id"
		printf '%s' "$KERNO_S3_SECRET_ACCESS_KEY" >"$dir/s3-key"
	elif [ -z "$S3_ROLE_ARN" ]; then
		existing_secret kerno-s3 access-key-id "$dir/s3-id" || : >"$dir/s3-id"
		existing_secret kerno-s3 secret-access-key "$dir/s3-key" || : >"$dir/s3-key"
	else
		: >"$dir/s3-id"
		: >"$dir/s3-key"
	fi
}

# A secretGenerator entry for Secret $2 with KEY=FILE pairs, FILE relative to the overlay $1;
# empty files are left out, so an unset optional credential is an absent key, not an empty one.
secret_entry() {
	local dir=$1 name=$2 pair
	shift 2
	printf -- '- name: %s\n  type: Opaque\n  files:\n' "$name"
	for pair in "$@"; do
		[ -s "$dir/${pair#*=}" ] && printf '  - %s\n' "$pair"
	done
	return 0
}

# The base's resource files, without the two that install.sh generates with their values.
copy_base() {
	local dir=$1 file
	while read -r file; do
		case "$file" in
		secrets.yaml | config.yaml) ;;
		*)
			cp "$HERE/$file" "$dir/"
			echo "  - $file"
			;;
		esac
	done < <(sed -n 's/^  - \([a-z-]*\.yaml\)$/\1/p' "$HERE/kustomization.yaml")
	[ -z "$S3_ROLE_ARN" ] && return 0
	# IRSA: the annotation goes where rbac.yaml marks its place, on Nanobe's ServiceAccount.
	sed -i "s|^  # IRSA annotation (install.sh --s3-role-arn)\$|  annotations:\n    eks.amazonaws.com/role-arn: \"$S3_ROLE_ARN\"|" \
		"$dir/rbac.yaml"
	grep -q "role-arn: \"$S3_ROLE_ARN\"" "$dir/rbac.yaml" ||
		die "deploy/rbac.yaml has lost the line marking the IRSA annotation's place"
}

# ---- what install.sh applies: the base with the image, the settings and the Secrets ----
# Written for every kustomize from kubectl 1.20's (v2) on: no `labels`, `patches`, `envs`, or
# directories in `resources`.
write_overlay() {
	local dir=$1 checksum resources
	mkdir -p "$dir/secrets"
	make_secrets "$dir/secrets"
	{
		printf 'KERNO_S3_BUCKET=%s\nKERNO_S3_PREFIX=%s\nKERNO_S3_REGION=%s\n' "$BUCKET" "${PREFIX:-kerno}" "$REGION"
		printf 'KERNO_S3_ENDPOINT=%s\nKERNO_CLOUD_URL=%s\n' "$S3_ENDPOINT" "$CLOUD_URL"
	} >"$dir/nanobe.env"
	checksum=$(cd "$dir" && cat nanobe.env secrets/* | sha256sum | cut -c1-16)
	resources=$(copy_base "$dir")
	{
		cat <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $NS
resources:
$resources
images:
  - name: kerno
    newName: ${IMAGE:-$BASE_IMAGE}
    newTag: "$TAG"
# A changed Secret or setting restarts the pods (the annotation lands on their templates too);
# an unchanged re-run does not.
commonAnnotations:
  kerno.dev/config-checksum: "$checksum"
generatorOptions:
  disableNameSuffixHash: true
  labels:
    app.kubernetes.io/part-of: kerno
configMapGenerator:
  - name: kerno-nanobe
    literals:
EOF
		sed 's/.*/      - "&"/' "$dir/nanobe.env"
		echo "secretGenerator:"
		# Preon and Nanobe must not start without these: they are never empty.
		secret_entry "$dir" kerno-internal-token token=secrets/token
		secret_entry "$dir" kerno-ca ca.crt=secrets/ca.crt
		secret_entry "$dir" kerno-nanobe-tls tls.crt=secrets/tls.crt tls.key=secrets/tls.key
		secret_entry "$dir" kerno-spool-key preon=secrets/spool-preon nanobe=secrets/spool-nanobe
		secret_entry "$dir" kerno-cloud-token token=secrets/cloud-token
		secret_entry "$dir" kerno-s3 access-key-id=secrets/s3-id secret-access-key=secrets/s3-key
	} >"$dir/kustomization.yaml"
}

# ---- S3 bucket and IAM policy ----
aws_partition() {
	case "$REGION" in
	cn-*) echo aws-cn ;;
	us-gov-*) echo aws-us-gov ;;
	*) echo aws ;;
	esac
}

# Least privilege for Nanobe's uploads: write objects (a multipart upload's create, upload-part
# and complete steps are all s3:PutObject) and abort or list the parts of its own multipart
# uploads; nothing else, and only under BUCKET/PREFIX/. No read, no delete, no listing.
iam_policy() {
	local arn
	arn="arn:$(aws_partition):s3:::$BUCKET/${PREFIX:-kerno}/*"
	cat <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "KernoWriteUnderPrefix",
      "Effect": "Allow",
      "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": "$arn"
    }
  ]
}
EOF
}

create_bucket() {
	local dir=$1 policy_name="kerno-$BUCKET-writer" account policy_arn out
	need aws
	if aws s3api head-bucket --bucket "$BUCKET" --region "$REGION" >/dev/null 2>&1; then
		say "bucket $BUCKET exists"
	elif [ "$REGION" = us-east-1 ]; then
		aws s3api create-bucket --bucket "$BUCKET" --region "$REGION" >/dev/null
	else
		aws s3api create-bucket --bucket "$BUCKET" --region "$REGION" \
			--create-bucket-configuration "LocationConstraint=$REGION" >/dev/null
	fi
	aws s3api put-public-access-block --bucket "$BUCKET" --region "$REGION" \
		--public-access-block-configuration \
		BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
	aws s3api put-bucket-encryption --bucket "$BUCKET" --region "$REGION" \
		--server-side-encryption-configuration \
		'{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
	say "bucket $BUCKET ($REGION): public access blocked, SSE-S3 encryption"
	iam_policy >"$dir/policy.json"
	account=$(aws sts get-caller-identity --query Account --output text)
	policy_arn="arn:$(aws_partition):iam::$account:policy/$policy_name"
	if aws iam get-policy --policy-arn "$policy_arn" >/dev/null 2>&1; then
		# A policy keeps at most 5 versions: drop the oldest non-default one first.
		# shellcheck disable=SC2016 # backquotes are JMESPath literals, not shell
		out=$(aws iam list-policy-versions --policy-arn "$policy_arn" \
			--query 'Versions[?IsDefaultVersion==`false`].VersionId' --output text)
		if [ "$(wc -w <<<"$out")" -ge 4 ]; then
			aws iam delete-policy-version --policy-arn "$policy_arn" --version-id "${out##* }"
		fi
		aws iam create-policy-version --policy-arn "$policy_arn" \
			--policy-document "file://$dir/policy.json" --set-as-default >/dev/null
	else
		aws iam create-policy --policy-name "$policy_name" \
			--policy-document "file://$dir/policy.json" >/dev/null
	fi
	say "IAM policy $policy_arn:"
	cat "$dir/policy.json"
	if [ -n "$S3_ROLE_ARN" ]; then
		aws iam attach-role-policy --role-name "${S3_ROLE_ARN##*/}" --policy-arn "$policy_arn"
		say "attached to role $S3_ROLE_ARN"
	else
		say "attach it to the IAM user or role whose credentials Nanobe uses (KERNO_S3_ACCESS_KEY_ID)"
	fi
}

# ---- the steps ----
uninstall() {
	check_context
	say "removing namespace $NS (Secrets, pods, Service, policies) and Kerno's cluster-wide RBAC"
	kc delete namespace "$NS" --ignore-not-found --timeout="${TIMEOUT}s"
	kc delete clusterrolebinding,clusterrole -l app.kubernetes.io/part-of=kerno --ignore-not-found
	say "done. Left in place: the bucket, and on each node /sys/fs/bpf/kerno and /var/lib/kerno/preon"
}

wait_and_report() {
	say "waiting for the rollouts (up to ${TIMEOUT}s each)"
	kc -n "$NS" rollout status daemonset/preon --timeout="${TIMEOUT}s" ||
		die "daemonset/preon did not roll out: kubectl -n $NS describe pods -l app.kubernetes.io/name=preon; kubectl -n $NS logs -l app.kubernetes.io/name=preon"
	kc -n "$NS" rollout status deployment/nanobe --timeout="${TIMEOUT}s" ||
		die "deployment/nanobe did not roll out: kubectl -n $NS describe pods -l app.kubernetes.io/name=nanobe; kubectl -n $NS logs -l app.kubernetes.io/name=nanobe"
	kc -n "$NS" get daemonset,deployment,service
	kc -n "$NS" get pods -o wide
	say "Kerno $TAG is running in context $CONTEXT"
}

main() {
	local work
	parse_args "$@"
	validate_args
	if [ "$PRINT_POLICY" = 1 ]; then
		iam_policy
		exit 0
	fi
	need kubectl openssl sha256sum base64
	if [ "$UNINSTALL" = 1 ]; then
		uninstall
		exit 0
	fi
	if [ -z "$TAG" ]; then
		TAG=$(git -C "$REPO" describe --tags --always 2>/dev/null) ||
			bad "no --tag given and $REPO is not a git checkout to take the version from"
	fi
	umask 077
	work=$(mktemp -d "${TMPDIR:-/tmp}/kerno-install.XXXXXX")
	# shellcheck disable=SC2064 # expand now: $work is local
	trap "rm -rf '$work'" EXIT
	if [ "$RENDER" = 0 ]; then
		check_context
		check_kernels
		check_network_policy_support
		load_previous_settings
		[ "$CREATE_BUCKET" = 0 ] || create_bucket "$work"
	fi
	write_overlay "$work/overlay"
	if [ "$RENDER" = 1 ]; then
		kubectl kustomize "$work/overlay"
		exit 0
	fi
	say "applying image ${IMAGE:-$BASE_IMAGE}:$TAG"
	kc apply --server-side --force-conflicts --field-manager=kerno-install -k "$work/overlay"
	wait_and_report
}

main "$@"

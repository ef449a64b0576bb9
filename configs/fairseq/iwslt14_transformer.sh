#!/usr/bin/env bash
# The paper's Transformer on IWSLT-14 De-En: fairseq's transformer_iwslt_de_en recipe with --criterion slf.
#     bash configs/fairseq/iwslt14_transformer.sh [fairseq-train options]
set -euo pipefail
source "$(dirname "$0")/iwslt14_common.sh"
exec fairseq-train "$DATA" "${CRITERION_ARGS[@]}" --criterion "$CRITERION" --label-smoothing 0.1 \
    --arch transformer_iwslt_de_en --share-decoder-input-output-embed \
    --optimizer adam --adam-betas '(0.9, 0.98)' --clip-norm 0.0 \
    --lr 5e-4 --lr-scheduler inverse_sqrt --warmup-updates 4000 \
    --dropout 0.3 --weight-decay 0.0001 --max-tokens 4096 \
    --save-dir "${SAVE_DIR:-checkpoints/transformer_$CRITERION}" --tensorboard-logdir "${SAVE_DIR:-checkpoints/transformer_$CRITERION}/tb" \
    --log-format json "$@"

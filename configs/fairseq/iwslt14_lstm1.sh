#!/usr/bin/env bash
# The paper's LSTM-1 on IWSLT-14 De-En: fairseq's lstm_wiseman_iwslt_de_en (one layer) with --criterion slf.
#     bash configs/fairseq/iwslt14_lstm1.sh [fairseq-train options]
set -euo pipefail
source "$(dirname "$0")/iwslt14_common.sh"
exec fairseq-train "$DATA" "${CRITERION_ARGS[@]}" --criterion "$CRITERION" --label-smoothing 0.1 \
    --arch lstm_wiseman_iwslt_de_en --optimizer adam --lr 1e-3 --clip-norm 0.1 \
    --lr-scheduler reduce_lr_on_plateau --lr-shrink 0.5 --dropout 0.2 --max-tokens 4096 \
    --save-dir "${SAVE_DIR:-checkpoints/lstm1_$CRITERION}" --tensorboard-logdir "${SAVE_DIR:-checkpoints/lstm1_$CRITERION}/tb" \
    --log-format json "$@"

#!/usr/bin/env bash
# The paper's LSTM-2 on IWSLT-14 De-En: lstm_wiseman_iwslt_de_en with two encoder and two decoder layers.
#     bash configs/fairseq/iwslt14_lstm2.sh [fairseq-train options]
set -euo pipefail
source "$(dirname "$0")/iwslt14_common.sh"
exec fairseq-train "$DATA" "${CRITERION_ARGS[@]}" --criterion "$CRITERION" --label-smoothing 0.1 \
    --arch lstm_wiseman_iwslt_de_en --encoder-layers 2 --decoder-layers 2 \
    --optimizer adam --lr 1e-3 --clip-norm 0.1 \
    --lr-scheduler reduce_lr_on_plateau --lr-shrink 0.5 --dropout 0.2 --max-tokens 4096 \
    --save-dir "${SAVE_DIR:-checkpoints/lstm2_$CRITERION}" --tensorboard-logdir "${SAVE_DIR:-checkpoints/lstm2_$CRITERION}/tb" \
    --log-format json "$@"

# Sourced by the iwslt14_{transformer,lstm1,lstm2}.sh recipes: data, criterion and SLF options.
#   DATA       binarised data (default data-bin/iwslt14.tokenized.de-en, see iwslt14_prepare.sh)
#   CRITERION  slf (default) or label_smoothed_cross_entropy, the baseline
#   SAVE_DIR   checkpoints (default checkpoints/<recipe>_<criterion>)
# Arguments given to a recipe are passed on to fairseq-train (e.g. --max-epoch 50 --cpu).
DATA=${DATA:-data-bin/iwslt14.tokenized.de-en}
CRITERION=${CRITERION:-slf}
SLF_ARGS=()
if [ "$CRITERION" = slf ]; then
    SLF_ARGS=(--user-dir "$(slf fairseq-user-dir)" --slf-candidates label_smoothed_nll,focal,poly1,mae
              --slf-samples 3 --slf-tau 1.0 --slf-mode joint)
fi

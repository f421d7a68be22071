"""Training TelME: the three official stages, their losses, evaluation and the CLI.

    losses.py      response_distillation_loss, feature_distillation_loss
    stages.py      TeacherObjective, StudentObjective, FusionObjective; train_teacher/_student/_fusion
    engine.py      LoopConfig, fit (accelerate: devices, AMP, clipping, warm-up, best dev F1, resume)
    pipeline.py    run folders: run_teacher, load_part, export_run (-> project bundle)
    evaluate.py    classification_scores, EvaluationReport
    cli.py         add_train_arguments/run_train, add_evaluate_arguments/run_evaluate

Nothing is imported here: importing telme.training loads neither torch models nor weights.
"""

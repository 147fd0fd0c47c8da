//! A trial's `config.toml` read back as the experiment that reruns it.

/// Experiment text from a trial's `config.toml` (the resolved experiment
/// under `experiment`, with the trial's name): that one model alone, so
/// `earshot train runs/<exp>/<trial>/config.toml` reruns exactly that trial.
/// Other text is returned as it is.
pub fn from_trial_record(text: &str) -> String {
    let Ok(mut table) = toml::from_str::<toml::Table>(text) else {
        return text.to_string();
    };
    let (Some(toml::Value::Table(mut experiment)), Some(trial)) = (
        table.remove("experiment"),
        table
            .get("trial")
            .and_then(|t| t.as_str())
            .map(str::to_string),
    ) else {
        return text.to_string();
    };
    if let Some(toml::Value::Array(models)) = experiment.get_mut("model") {
        models.retain(|m| {
            let name = m
                .get("name")
                .or_else(|| m.get("kind"))
                .and_then(|v| v.as_str());
            name == Some(trial.as_str())
        });
    }
    experiment.remove("ensemble");
    toml::to_string(&experiment).expect("tables serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXP: &str = "name = \"x\"\n[data]\nlayout = \"folders\"\nroot = \"d\"\n[[model]]\nkind = \"rnn\"\nname = \"lstm\"\n[[model]]\nkind = \"dense\"\n[train]\nepochs = 5\n";

    #[test]
    fn a_trial_record_becomes_its_one_model_experiment() {
        let record = format!(
            "earshot_version = \"0.1.0\"\ntrial = \"lstm\"\nseed = 42\nwindow = [32, 20]\n[experiment]\n{}",
            EXP.replace("[[model]]", "[[experiment.model]]")
                .replace("[data]", "[experiment.data]")
                .replace("[train]", "[experiment.train]")
        );
        let table: toml::Table = toml::from_str(&from_trial_record(&record)).unwrap();
        let models = table["model"].as_array().unwrap();
        assert_eq!(models.len(), 1);
        assert_eq!(models[0]["name"].as_str(), Some("lstm"));
        assert_eq!(table["train"]["epochs"].as_integer(), Some(5));
        assert_eq!(
            from_trial_record(EXP),
            EXP,
            "an experiment file passes through"
        );
    }
}

/* batch: being written */

// Standalone build of the casesync Android library (AAR). An app can instead include
// this directory as a module: include(":casesync"); project(":casesync").projectDir = file(".../mobile-bindings/android")
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
        // The Kotlin component of rustls-platform-verifier (casesync's TLS on Android) is
        // published by its authors as a Maven repository in their GitHub project, not on
        // Maven Central. Only that group is looked up there. An app that includes this
        // directory as a module must declare the same repository in its own settings.
        maven {
            url = uri("https://github.com/rustls/rustls-platform-verifier/raw/maven-archive/android-release-support/maven/")
            content { includeGroup("org.rustls") }
        }
    }
}
rootProject.name = "casesync"
